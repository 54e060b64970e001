/**
 * Raising a model's default-domain (ai.onnx) opset. A node resolves to the newest version of its
 * operator at or below the imported opset, so raising the import silently re-reads every node
 * under the new signature. `upgradeOpset` rewrites the nodes whose signature changed in a way old
 * nodes would break (an attribute that became an input, changed semantics), and refuses, naming
 * the op and node, what it cannot rewrite. Changes that only add types or optional attributes
 * or inputs need nothing.
 */
import {
  AttributeType,
  DataType,
  getAttribute,
  getOpsetVersion,
  makeNode,
  makeTensor,
  setOpsetImport,
  type AttributeProto,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type TensorData,
  type TensorProto,
} from "./model-io";

/** The oldest opset read: numpy-style broadcasting without a `broadcast` attribute starts at 7. */
export const MIN_UPGRADE_OPSET = 7;

const REDUCE_AXES_INPUT_18 = [
  "ReduceMean",
  "ReduceMax",
  "ReduceMin",
  "ReduceProd",
  "ReduceL1",
  "ReduceL2",
  "ReduceLogSum",
  "ReduceLogSumExp",
  "ReduceSumSquare",
];

/**
 * Versions at which an operator changed in a way an older node cannot be read under; ops absent
 * from this table changed, between 7 and 21, only additively.
 */
const BREAKING: Record<string, number[]> = {
  ...Object.fromEntries(REDUCE_AXES_INPUT_18.map((op) => [op, [18]])),
  ReduceSum: [13],
  Split: [13, 18],
  Squeeze: [13],
  Unsqueeze: [13],
  Clip: [11],
  Pad: [11],
  Slice: [10],
  TopK: [10],
  Dropout: [10, 12],
  Softmax: [13],
  LogSoftmax: [13],
  Hardmax: [13],
  BatchNormalization: [9, 14],
  Upsample: [9, 10],
  Resize: [11, 13, 18, 19],
  Scatter: [11],
  Scan: [9],
  RoiAlign: [16],
  GridSample: [20],
  DFT: [20],
  GroupNormalization: [21],
};

/** Why an op is refused when a breaking version lies between the model's opset and the target. */
const REFUSED: Record<string, string> = {
  Upsample: "Upsample is deprecated from opset 10 (Resize replaces it, with different inputs and coordinate rules)",
  Resize: "Resize changed its inputs and coordinate modes at opsets 11, 13, 18 and 19",
  Scatter: "Scatter is deprecated from opset 11",
  Scan: "Scan lost its batch dimension at opset 9",
  RoiAlign: "RoiAlign's default coordinate mode changed at opset 16",
  GridSample: "GridSample renamed its modes at opset 20",
  DFT: "DFT's axis became an input at opset 20",
  GroupNormalization: "GroupNormalization's scale and bias became per channel at opset 21",
};

export class OpsetUpgradeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "OpsetUpgradeError";
  }
}

const isDefaultDomain = (d: string | undefined) => !d || d === "ai.onnx";

/** The breaking versions of `op` in (from, to]. */
function crossed(op: string, from: number, to: number): number[] {
  return (BREAKING[op] ?? []).filter((v) => v > from && v <= to);
}

interface Context {
  from: number;
  target: number;
  names: Set<string>;
}

function collectNames(graph: GraphProto | undefined, names: Set<string>): void {
  if (!graph) return;
  for (const t of graph.initializer ?? []) if (t.name) names.add(t.name);
  for (const v of [...(graph.input ?? []), ...(graph.output ?? []), ...(graph.valueInfo ?? [])]) if (v.name) names.add(v.name);
  for (const n of graph.node ?? []) {
    if (n.name) names.add(n.name);
    for (const s of [...(n.input ?? []), ...(n.output ?? [])]) if (s) names.add(s);
    for (const a of n.attribute ?? []) {
      collectNames(a.g, names);
      for (const g of a.graphs ?? []) collectNames(g, names);
    }
  }
}

function unique(ctx: Context, base: string): string {
  let name = base;
  for (let i = 1; ctx.names.has(name); i++) name = `${base}_${i}`;
  ctx.names.add(name);
  return name;
}

/** Element type of `name` where the graph (or an enclosing one) declares it. */
function elemTypeOf(graphs: GraphProto[], name: string): number | undefined {
  for (const g of graphs) {
    const t = g.initializer?.find((i) => i.name === name);
    if (t?.dataType) return t.dataType;
    const v = [...(g.input ?? []), ...(g.valueInfo ?? []), ...(g.output ?? [])].find((x) => x.name === name);
    const e = v?.type?.tensorType?.elemType;
    if (e) return e;
  }
  return undefined;
}

function nodeLabel(node: NodeProto): string {
  return `${node.opType} node ${JSON.stringify(node.name || node.output?.[0] || "(unnamed)")}`;
}

function intsAttr(node: NodeProto, name: string): number[] | undefined {
  const a = getAttribute(node, name);
  if (!a) return undefined;
  return (a.ints ?? []).map(Number);
}

function withoutAttrs(node: NodeProto, names: string[]): AttributeProto[] {
  return (node.attribute ?? []).filter((a) => !names.includes(a.name ?? ""));
}

/**
 * Plans the rewrite of one graph (and, recursively, its subgraphs) without touching it: pushes onto
 * `commits` what applies it. `scopes` is this graph then its enclosing ones. Unchanged nodes keep
 * their identity, and rewritten ones are copies, so that nothing changes before every node passed.
 */
function upgradeGraph(graph: GraphProto, scopes: GraphProto[], ctx: Context, commits: (() => void)[]): void {
  const out: NodeProto[] = [];
  const inits: TensorProto[] = [];
  const addConst = (base: string, dims: number[], data: TensorData, dataType?: number): string => {
    const name = unique(ctx, base);
    inits.push(makeTensor(name, dims, data, dataType));
    return name;
  };
  const i64 = (node: NodeProto, what: string, values: number[]) =>
    addConst(`${node.name || node.output?.[0]}/${what}`, [values.length], BigInt64Array.from(values.map((v) => BigInt(v))));
  /** A scalar of the same element type as `like`: a float constant, cast where the type is not float. */
  const scalarLike = (node: NodeProto, what: string, value: number, like: string, pre: NodeProto[]): string => {
    const f = addConst(`${node.name || node.output?.[0]}/${what}`, [], Float32Array.of(value));
    const type = elemTypeOf(scopes, like);
    if (type === DataType.FLOAT) return f;
    if (ctx.target < 15) {
      throw new OpsetUpgradeError(`${nodeLabel(node)}: cannot move ${what} to an input without knowing the element type of ${like} (CastLike needs opset 15)`);
    }
    const cast = unique(ctx, `${f}/cast`);
    pre.push(makeNode("CastLike", [f, like], [cast], [], { name: cast }));
    return cast;
  };

  for (const original of graph.node ?? []) {
    for (const a of original.attribute ?? []) {
      if (a.g) upgradeGraph(a.g, [a.g, ...scopes], ctx, commits);
      for (const g of a.graphs ?? []) upgradeGraph(g, [g, ...scopes], ctx, commits);
    }
    const op = original.opType ?? "";
    const versions = isDefaultDomain(original.domain) ? crossed(op, ctx.from, ctx.target) : [];
    if (versions.length === 0) {
      out.push(original);
      continue;
    }
    const node: NodeProto = { ...original, input: [...(original.input ?? [])], attribute: [...(original.attribute ?? [])] };
    const refuse = (why: string): never => {
      throw new OpsetUpgradeError(`cannot raise the opset from ${ctx.from} to ${ctx.target}: ${nodeLabel(node)}: ${why}`);
    };
    if (REFUSED[op]) refuse(REFUSED[op]);
    const inputs = [...(node.input ?? [])];
    const pre: NodeProto[] = [];

    if (op === "ReduceSum" || REDUCE_AXES_INPUT_18.includes(op)) {
      const axes = intsAttr(node, "axes");
      if (inputs.length > 1) refuse("it already has an axes input");
      if (axes && axes.length > 0) inputs[1] = i64(node, "axes", axes);
      node.attribute = withoutAttrs(node, ["axes"]);
    } else if (op === "Squeeze" || op === "Unsqueeze") {
      const axes = intsAttr(node, "axes");
      if (op === "Unsqueeze" && !axes) refuse("no axes attribute");
      if (axes && axes.length > 0) inputs[1] = i64(node, "axes", axes);
      node.attribute = withoutAttrs(node, ["axes"]);
    } else if (op === "Split") {
      if (versions.includes(13)) {
        const split = intsAttr(node, "split");
        if (split && split.length > 0) inputs[1] = i64(node, "split", split);
        node.attribute = withoutAttrs(node, ["split"]);
      }
      if (ctx.target >= 18 && !inputs[1] && !getAttribute(node, "num_outputs")) {
        node.attribute = [...(node.attribute ?? []), { name: "num_outputs", type: AttributeType.INT, i: node.output?.length ?? 0 }];
      }
    } else if (op === "Clip") {
      const min = getAttribute(node, "min");
      const max = getAttribute(node, "max");
      if (min) inputs[1] = scalarLike(node, "min", min.f ?? 0, inputs[0], pre);
      if (max) inputs[2] = scalarLike(node, "max", max.f ?? 0, inputs[0], pre);
      if (min && !max) inputs.length = 2;
      if (!min && max) inputs[1] = "";
      node.attribute = withoutAttrs(node, ["min", "max"]);
    } else if (op === "Pad") {
      const pads = intsAttr(node, "pads");
      if (!pads) refuse("no pads attribute");
      inputs[1] = i64(node, "pads", pads ?? []);
      const value = getAttribute(node, "value");
      if (value && (value.f ?? 0) !== 0) inputs[2] = scalarLike(node, "constant_value", value.f ?? 0, inputs[0], pre);
      node.attribute = withoutAttrs(node, ["pads", "value"]);
    } else if (op === "Slice") {
      const starts = intsAttr(node, "starts");
      const ends = intsAttr(node, "ends");
      if (!starts || !ends) refuse("no starts/ends attributes");
      inputs[1] = i64(node, "starts", starts ?? []);
      inputs[2] = i64(node, "ends", ends ?? []);
      const axes = intsAttr(node, "axes");
      if (axes) inputs[3] = i64(node, "axes", axes);
      node.attribute = withoutAttrs(node, ["starts", "ends", "axes"]);
    } else if (op === "TopK") {
      const k = getAttribute(node, "k");
      if (!k) refuse("no k attribute");
      inputs[1] = i64(node, "k", [Number(k?.i ?? 0)]);
      node.attribute = withoutAttrs(node, ["k"]);
    } else if (op === "Dropout") {
      if (versions.includes(10) && node.output?.[1]) refuse("its mask output changed type at opset 10");
      if (versions.includes(12)) {
        const ratio = getAttribute(node, "ratio");
        if (ratio) inputs[1] = addConst(`${node.name || node.output?.[0]}/ratio`, [], Float32Array.of(ratio.f ?? 0.5));
        node.attribute = withoutAttrs(node, ["ratio"]);
      }
    } else if (op === "BatchNormalization") {
      if (versions.includes(9) && getAttribute(node, "spatial") && Number(getAttribute(node, "spatial")?.i ?? 1) !== 1) {
        refuse("non-spatial normalization was removed at opset 9");
      }
      if (versions.includes(14) && (node.output ?? []).filter(Boolean).length > 1) refuse("its training outputs changed at opset 14");
      node.attribute = withoutAttrs(node, ["spatial"]);
    } else if (op === "Softmax" || op === "LogSoftmax" || op === "Hardmax") {
      // Before 13: the input is flattened to 2-D at `axis` (default 1) and normalized over the
      // second dimension. From 13: over the one axis. Equal for axis -1; otherwise rewritten as
      // Flatten, the op over the last axis, Reshape back.
      const axis = Number(getAttribute(node, "axis")?.i ?? 1);
      if (axis !== -1) {
        const base = node.name || node.output?.[0] || op;
        const shape = unique(ctx, `${base}/shape`);
        const flat = unique(ctx, `${base}/flat`);
        const result = unique(ctx, `${base}/flat_out`);
        pre.push(makeNode("Shape", [inputs[0]], [shape], [], { name: shape }));
        pre.push(makeNode("Flatten", [inputs[0]], [flat], [{ name: "axis", type: AttributeType.INT, i: axis }], { name: flat }));
        pre.push(makeNode(op, [flat], [result], [{ name: "axis", type: AttributeType.INT, i: -1 }], { name: result }));
        out.push(...pre, makeNode("Reshape", [result, shape], [...(node.output ?? [])], [], { name: node.name || `${base}/reshape` }));
        continue;
      }
    } else {
      refuse(`its signature changed at opset ${versions.join(", ")} and it cannot be rewritten`);
    }
    while (inputs.length > 0 && inputs[inputs.length - 1] === "") inputs.pop();
    node.input = inputs;
    out.push(...pre, node);
  }
  commits.push(() => {
    const nodes = (graph.node ??= []);
    nodes.splice(0, nodes.length, ...out);
    if (inits.length > 0) (graph.initializer ??= []).push(...inits);
  });
}

/**
 * Raises the default-domain opset of `model` to `target`, rewriting every node (subgraphs of
 * If/Loop/Scan included) whose operator changed signature in between. Throws an
 * OpsetUpgradeError naming the op and node, leaving the model untouched, when some node
 * cannot be rewritten. Nodes that need no rewrite stay the same objects (callers hold them). Does nothing when the model is already at `target` or above.
 */
export function upgradeOpset(model: ModelProto, target: number): void {
  const from = getOpsetVersion(model, "") ?? 0;
  if (from >= target) return;
  if (!model.graph) throw new OpsetUpgradeError("the model has no graph");
  if (from < MIN_UPGRADE_OPSET)
    throw new OpsetUpgradeError(`cannot raise the opset from ${from} to ${target}: models below opset ${MIN_UPGRADE_OPSET} are not read`);
  for (const f of model.functions ?? []) {
    const v = (f.opsetImport ?? []).find((o) => isDefaultDomain(o.domain))?.version;
    if (v !== undefined && v < target) {
      throw new OpsetUpgradeError(`cannot raise the opset from ${from} to ${target}: model-local function ${JSON.stringify(f.name)} imports opset ${v}`);
    }
  }
  const names = new Set<string>();
  collectNames(model.graph, names);
  const ctx: Context = { from, target, names };
  const commits: (() => void)[] = [];
  upgradeGraph(model.graph, [model.graph], ctx, commits);
  for (const commit of commits) commit();
  setOpsetImport(model, "", target);
}
