/**
 * Folding per-input-channel scales into the graph (AWQ, SmoothQuant): for linears reading x,
 * y = x W = (x / s)(diag(s) W). The weights' input rows take s; 1/s goes to whatever makes x:
 *  - "norm": x is a norm's output `Mul(normalized, gamma)` with gamma a [K] initializer: gamma /= s;
 *  - "linear": x = a * b with b the output of another linear (SwiGLU: silu(gate) * up), or x is
 *    that linear's output carried through ops linear in it channel by channel (attention: v_proj
 *    -> heads -> probs @ V -> merged heads -> o_proj, when v_proj has o_proj's input width, i.e. no
 *    grouped-query repeat): that linear's output columns /= s (llm-awq `scale_fc_fc`);
 *  - "mul": anything else: an explicit Mul(x, 1/s) is inserted in front of the group.
 * Before quantization the folded graph computes the same function (up to float rounding).
 */
import { DataType, findInitializer, getAttribute, getInitializer, makeNode, setInitializer, type ModelProto, type NodeProto } from "../../onnx/model-io";
import { readRowWeight, writeRowWeight, type LinearTarget } from "./emit";
import { scaleColumns, type RowWeight } from "./scaling";

export interface LinearGroup {
  /** The shared activation input. */
  input: string;
  k: number;
  members: LinearTarget[];
}

/** Linears grouped by the activation they read (q/k/v share one, gate/up share one), in graph order. */
export function groupByInput(targets: readonly LinearTarget[]): LinearGroup[] {
  const groups = new Map<string, LinearGroup>();
  for (const t of targets) {
    let g = groups.get(t.input);
    if (!g) {
      g = { input: t.input, k: t.k, members: [] };
      groups.set(t.input, g);
    }
    if (t.k !== g.k) throw new Error(`linears reading ${t.input} disagree on K (${g.k} vs ${t.k})`);
    g.members.push(t);
  }
  return [...groups.values()];
}

export type FoldSite = { kind: "norm"; weight: string } | { kind: "linear"; target: LinearTarget } | { kind: "mul" };

function graphMaps(model: ModelProto) {
  const producer = new Map<string, NodeProto>();
  const consumers = new Map<string, NodeProto[]>();
  for (const node of model.graph?.node ?? []) {
    for (const o of node.output ?? []) producer.set(o, node);
    for (const i of node.input ?? []) {
      const list = consumers.get(i);
      if (list) list.push(node);
      else consumers.set(i, [node]);
    }
  }
  const outputs = new Set((model.graph?.output ?? []).map((v) => v.name ?? ""));
  return { producer, consumers, outputs };
}

/**
 * Where 1/s of a group can go. `linears` are all quantization targets (to recognise a producing
 * linear); a site is only used when nothing but the group reads the tensor that changes.
 */
export function findFoldSite(model: ModelProto, group: LinearGroup, linears: readonly LinearTarget[]): FoldSite {
  const { producer, consumers, outputs } = graphMaps(model);
  const members = new Set(group.members.map((m) => m.node));
  const readers = consumers.get(group.input) ?? [];
  const onlyGroup = !outputs.has(group.input) && readers.every((n) => members.has(n));
  const prod = producer.get(group.input);
  if (!onlyGroup || !prod) return { kind: "mul" };
  const byOutput = new Map(linears.map((l) => [l.node.output?.[0] ?? "", l]));
  const foldable = (lin: LinearTarget | undefined): lin is LinearTarget =>
    lin !== undefined && lin.n === group.k && !lin.tied && !members.has(lin.node) && !lin.node.input?.[2];
  if (prod.opType === "Mul" && (prod.domain ?? "") === "") {
    const [a, b] = prod.input ?? [];
    const used = (name: string) => (consumers.get(name)?.length ?? 0) + (outputs.has(name) ? 1 : 0);
    for (const w of [b, a]) {
      const init = w ? findInitializer(model, w) : undefined;
      if (init && init.dataType === DataType.FLOAT && init.dims?.length === 1 && init.dims[0] === group.k && used(w) === 1) {
        return { kind: "norm", weight: w };
      }
    }
    for (const t of [b, a]) {
      const lin = t ? byOutput.get(t) : undefined;
      if (foldable(lin) && used(t) === 1) return { kind: "linear", target: lin };
    }
    return { kind: "mul" };
  }
  const traced = traceChannelPath(model, group.input, producer, consumers);
  const lin = traced ? byOutput.get(traced) : undefined;
  return foldable(lin) ? { kind: "linear", target: lin } : { kind: "mul" };
}

/** Ops that move channels of their first input without mixing them (and MatMul with it as the right operand). */
const CHANNEL_OPS = new Set(["Reshape", "Transpose", "Concat", "Unsqueeze", "Squeeze", "Expand", "Identity", "MatMul"]);

/**
 * Walks back from `tensor` through ops under which scaling a channel of the source scales the same
 * channel of the result (head split/merge, KV-cache concat, probs @ V), each intermediate read by
 * the next op only (a graph output such as the KV cache may also expose it). Returns the tensor the
 * walk ends at (the candidate linear's output), or null. The folded model is checked against the
 * original afterwards (checkEquivalent), which catches a head order this walk cannot see.
 */
function traceChannelPath(model: ModelProto, tensor: string, producer: Map<string, NodeProto>, consumers: Map<string, NodeProto[]>): string | null {
  const graphInputs = new Set((model.graph?.input ?? []).map((v) => v.name ?? ""));
  const graphOutputs = new Set((model.graph?.output ?? []).map((v) => v.name ?? ""));
  // An Identity that only exposes the tensor as a graph output (new_key_values.*) computes nothing from it.
  const exposes = (n: NodeProto) => n.opType === "Identity" && (n.output ?? []).every((o) => graphOutputs.has(o) && !consumers.has(o));
  let t = tensor;
  for (let steps = 0; steps < 64; steps++) {
    const node = producer.get(t);
    if (!node || (node.domain ?? "") !== "") return null;
    if (node.opType === "MatMul" || node.opType === "Gemm") {
      // the end of the walk when this is a linear with a weight initializer
      if (findInitializer(model, node.input?.[1] ?? "")) return steps > 0 ? t : null;
    }
    if (!CHANNEL_OPS.has(node.opType ?? "")) return null;
    let next: string | undefined;
    if (node.opType === "MatMul") {
      const [a, b] = node.input ?? [];
      if (!b || a === b || findInitializer(model, b)) return null;
      next = b;
    } else if (node.opType === "Concat") {
      const path = (node.input ?? []).filter((i) => !graphInputs.has(i));
      if (path.length !== 1) return null;
      next = path[0];
    } else if (node.opType === "Transpose") {
      const perm = getAttribute(node, "perm")?.ints ?? [];
      if (perm.length === 0 || perm[perm.length - 1] !== perm.length - 1) return null;
      next = node.input?.[0];
    } else {
      next = node.input?.[0];
    }
    if (!next || (consumers.get(next) ?? []).filter((n) => !exposes(n)).length !== 1) return null;
    t = next;
  }
  return null;
}

/**
 * Applies x -> x/s, W -> diag(s) W for one group, in place. The members' float weights are
 * rewritten; call before quantizing them.
 */
export function foldInputScale(model: ModelProto, group: LinearGroup, s: Float32Array, site: FoldSite): void {
  if (s.length !== group.k) throw new Error(`scale has ${s.length} channels, ${group.input} has ${group.k}`);
  for (const m of group.members) writeRowWeight(model, m, scaleColumns(readRowWeight(model, m), m.n, m.k, s));
  if (site.kind === "norm") {
    const gamma = getInitializer(model, site.weight);
    const data = gamma.data as Float32Array;
    for (let j = 0; j < data.length; j++) data[j] /= s[j];
    setInitializer(model, site.weight, gamma.dims, data);
  } else if (site.kind === "linear") {
    // Output column j of the producing linear is row j in [N, K] layout.
    const t = site.target;
    const rows = readRowWeight(model, t);
    for (let j = 0; j < t.n; j++) for (let c = 0; c < t.k; c++) rows[j * t.k + c] /= s[j];
    writeRowWeight(model, t, rows);
  } else {
    const nodes = model.graph?.node ?? [];
    const first = Math.min(...group.members.map((m) => nodes.indexOf(m.node)));
    const inv = Float32Array.from(s, (v) => 1 / v);
    const invName = `${group.input}/input_scale_inv`;
    const scaled = `${group.input}/input_scaled`;
    setInitializer(model, invName, [group.k], inv);
    nodes.splice(first, 0, makeNode("Mul", [group.input, invName], [scaled], [], { name: `${group.input}/input_scale` }));
    for (const m of group.members) {
      m.node.input = [scaled, ...(m.node.input ?? []).slice(1)];
      m.input = scaled;
    }
  }
}

/** The group's weights in [N, K] row layout, read from the model as it is now. */
export function groupWeights(model: ModelProto, group: LinearGroup): RowWeight[] {
  return group.members.map((m) => ({ name: m.weightName, data: readRowWeight(model, m), rows: m.n, cols: m.k }));
}
