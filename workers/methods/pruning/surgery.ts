/**
 * Graph surgery for structured pruning and layer removal on the decoder layout of docs/decoder.md.
 *
 * `decoderLayers` reads, per decoder layer, the seven linears (by their docs/decoder.md weight
 * names), the head split / merge Reshapes and their constant shapes, the KV cache input and output
 * names and the residual stream around the block. Everything a later edit depends on is checked
 * here, so a graph the surgery cannot fully understand (a user export whose head counts sit in
 * computed shapes, a fused attention op) is refused with an error naming what is missing, before
 * any weight changes.
 */
import fs from "node:fs";
import path from "node:path";
import {
  DataType,
  findInitializer,
  getInitializer,
  makeNode,
  numel,
  removeInitializer,
  setInitializer,
  type ModelProto,
  type NodeProto,
  type ValueInfoProto,
} from "../../onnx/model-io";
import { NEW_KV_PREFIX } from "../../onnx/decoder-config";

export const PROJ = ["q", "k", "v", "o", "gate", "up", "down"] as const;
export type Proj = (typeof PROJ)[number];

const WEIGHT_RE = /^(?:.*\.)?layers\.(\d+)\.(?:self_attn\.(q|k|v|o)_proj|mlp\.(gate|up|down)_proj)\.weight$/;

export interface Linear {
  node: NodeProto;
  weight: string;
  /** Rows (input features) and columns (output features) of the [in, out] weight. */
  k: number;
  n: number;
}

export interface LayerInfo {
  index: number;
  linears: Record<Proj, Linear>;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  intermediate: number;
  /** Reshapes whose constant shape carries the head count, and the axis that does. */
  headShapes: { node: NodeProto; kind: "q" | "kv" | "merged" | "rep"; axis: number }[];
  /** Names of the cache tensors of this layer. */
  pastKey: string;
  pastValue: string;
  presentKey: string;
  presentValue: string;
  /** Residual stream entering the block (h_i) and leaving it (h_{i+1}). */
  residualIn: string;
  residualOut: string;
}

type Consumers = Map<string, NodeProto[]>;

function consumersOf(model: ModelProto): Consumers {
  const map: Consumers = new Map();
  for (const node of model.graph?.node ?? []) {
    for (const name of node.input ?? []) {
      if (!name) continue;
      const list = map.get(name);
      if (list) list.push(node);
      else map.set(name, [node]);
    }
  }
  return map;
}

function producersOf(model: ModelProto): Map<string, NodeProto> {
  const map = new Map<string, NodeProto>();
  for (const node of model.graph?.node ?? []) for (const name of node.output ?? []) map.set(name, node);
  return map;
}

const nodeLabel = (n: NodeProto) => `${n.opType} "${n.name ?? n.output?.[0] ?? "?"}"`;

/** The int64 values of a constant shape input (an initializer), or null when it is computed. */
function constShape(model: ModelProto, name: string | undefined): number[] | null {
  if (!name) return null;
  const t = findInitializer(model, name);
  if (!t || t.dataType !== DataType.INT64) return null;
  return Array.from(getInitializer(model, name).data as BigInt64Array, Number);
}

/** Nodes reachable forward from `starts`, not entering `stop` nodes. */
function forwardRegion(consumers: Consumers, starts: string[], stop: Set<NodeProto>): NodeProto[] {
  const seen = new Set<NodeProto>();
  const queue = [...starts];
  while (queue.length) {
    const name = queue.pop()!;
    for (const node of consumers.get(name) ?? []) {
      if (seen.has(node) || stop.has(node)) continue;
      seen.add(node);
      queue.push(...(node.output ?? []));
    }
  }
  return [...seen];
}

/** Follows a linear's output through compensation-bias Adds (an initializer operand) to its real consumer. */
function throughBias(model: ModelProto, consumers: Consumers, name: string): { node: NodeProto; value: string } {
  let value = name;
  for (;;) {
    const cons = consumers.get(value) ?? [];
    if (cons.length !== 1) throw new Error(`"${value}" should feed exactly one node (the residual Add), it feeds ${cons.length}`);
    const node = cons[0];
    const other = node.input?.find((i) => i !== value);
    if (node.opType === "Add" && other && findInitializer(model, other)) {
      value = node.output![0];
      continue;
    }
    return { node, value };
  }
}

const ELEMENTWISE = new Set(["Mul", "Sigmoid", "Add", "Sub", "Div", "Tanh", "Relu", "Gelu", "Erf", "Pow", "Sqrt", "Cast", "Identity", "FastGelu", "QuickGelu"]);

/**
 * The decoder layers of a model in the docs/decoder.md layout, or an error naming the first thing
 * that is not where the layout puts it.
 */
export function decoderLayers(model: ModelProto): LayerInfo[] {
  const graph = model.graph ?? {};
  const inits = new Map((graph.initializer ?? []).map((t) => [t.name ?? "", t]));
  const found = new Map<number, Partial<Record<Proj, Linear>>>();
  for (const node of graph.node ?? []) {
    if (node.opType !== "MatMul" && node.opType !== "Gemm") continue;
    const weight = node.input?.[1] ?? "";
    const m = WEIGHT_RE.exec(weight);
    if (!m) continue;
    if (node.opType === "Gemm")
      throw new Error(`${nodeLabel(node)}: linears stored as Gemm are not supported by the pruning surgery (expected MatMul with an [in, out] weight)`);
    const dims = inits.get(weight)?.dims;
    if (dims?.length !== 2 || inits.get(weight)?.dataType !== DataType.FLOAT) {
      throw new Error(`${weight}: expected a 2-D float32 initializer (a quantized model cannot be pruned structurally)`);
    }
    const layer = Number(m[1]);
    const proj = (m[2] ?? m[3]) as Proj;
    const entry = found.get(layer) ?? {};
    if (entry[proj]) throw new Error(`${weight} is read by more than one MatMul`);
    entry[proj] = { node, weight, k: Number(dims[0]), n: Number(dims[1]) };
    found.set(layer, entry);
  }
  if (found.size === 0) {
    throw new Error(
      "the graph has no weights named layers.{i}.self_attn.{q,k,v,o}_proj.weight / layers.{i}.mlp.{gate,up,down}_proj.weight: " +
        "structural pruning needs the decoder layout of docs/decoder.md (user exports with anonymous weight names are not supported)",
    );
  }
  const count = Math.max(...found.keys()) + 1;
  const consumers = consumersOf(model);
  const producers = producersOf(model);
  const inputs = new Set((graph.input ?? []).map((v) => v.name ?? ""));
  const outputs = new Set((graph.output ?? []).map((v) => v.name ?? ""));
  const layers: LayerInfo[] = [];
  for (let i = 0; i < count; i++) {
    const entry = found.get(i) ?? {};
    const missing = PROJ.filter((p) => !entry[p]);
    if (missing.length) throw new Error(`layer ${i} has no ${missing.map((p) => `${p}_proj`).join(", ")} weight: not the decoder layout of docs/decoder.md`);
    const L = entry as Record<Proj, Linear>;
    const where = `layer ${i}`;
    const out = (p: Proj) => L[p].node.output![0];
    const single = (p: Proj) => {
      const c = consumers.get(out(p)) ?? [];
      if (c.length !== 1) throw new Error(`${where}: ${p}_proj output feeds ${c.length} nodes, expected one head-split Reshape`);
      return c[0];
    };
    // Head split after q/k/v: Reshape to [b, t, heads, head_dim] by a constant shape.
    const split = (p: "q" | "k" | "v") => {
      const node = single(p);
      const shape = node.opType === "Reshape" ? constShape(model, node.input?.[1]) : null;
      if (shape?.length !== 4) {
        throw new Error(
          `${where}: ${p}_proj feeds ${nodeLabel(node)}, not a Reshape to [batch, seq, heads, head_dim] with a constant shape; the head count cannot be located`,
        );
      }
      return { node, heads: shape[2], headDim: shape[3] };
    };
    const qs = split("q");
    const ks = split("k");
    const vs = split("v");
    const headDim = qs.headDim;
    if (
      headDim <= 0 ||
      qs.heads * headDim !== L.q.n ||
      ks.heads * headDim !== L.k.n ||
      vs.heads !== ks.heads ||
      vs.headDim !== headDim ||
      ks.headDim !== headDim
    ) {
      throw new Error(
        `${where}: head split shapes [.., ${qs.heads}, ${qs.headDim}] / [.., ${ks.heads}, ${ks.headDim}] do not match the q/k/v widths ${L.q.n}/${L.k.n}/${L.v.n}`,
      );
    }
    const numHeads = qs.heads;
    const numKvHeads = ks.heads;
    if (numHeads % numKvHeads !== 0) throw new Error(`${where}: ${numHeads} query heads are not a multiple of ${numKvHeads} kv heads`);
    if (L.o.k !== numHeads * headDim) throw new Error(`${where}: o_proj has ${L.o.k} inputs, expected ${numHeads} x ${headDim}`);
    // Head merge before o_proj: Reshape to [b, t, heads * head_dim].
    const mergeNode = producers.get(L.o.node.input![0]);
    const mergeShape = mergeNode?.opType === "Reshape" ? constShape(model, mergeNode.input?.[1]) : null;
    if (!mergeNode || !mergeShape || mergeShape[mergeShape.length - 1] !== numHeads * headDim) {
      throw new Error(
        `${where}: the o_proj input is not a Reshape to [.., ${numHeads * headDim}] with a constant shape; the merged head width cannot be located`,
      );
    }
    const headShapes: LayerInfo["headShapes"] = [
      { node: qs.node, kind: "q", axis: 2 },
      { node: ks.node, kind: "kv", axis: 2 },
      { node: vs.node, kind: "kv", axis: 2 },
      { node: mergeNode, kind: "merged", axis: mergeShape.length - 1 },
    ];
    // Everything between q/k/v and o_proj: the only shapes there may be the GQA repeat's.
    const region = forwardRegion(consumers, [out("q"), out("k"), out("v")], new Set([L.o.node]));
    const known = new Set(headShapes.map((h) => h.node));
    let pastKey = "";
    let pastValue = "";
    let presentKey = "";
    let presentValue = "";
    for (const node of region) {
      if (node.attribute?.some((a) => a.name === "num_heads" || a.name === "kv_num_heads")) {
        throw new Error(`${where}: ${nodeLabel(node)} carries a head-count attribute; fused attention ops are not supported by the pruning surgery`);
      }
      if (node.opType === "Reshape" && !known.has(node)) {
        const shape = constShape(model, node.input?.[1]);
        if (!shape) throw new Error(`${where}: ${nodeLabel(node)} reshapes attention tensors by a computed shape; the head count in it cannot be located`);
        if (shape.length === 4 && shape[1] === numHeads && shape[3] === headDim) headShapes.push({ node, kind: "rep", axis: 1 });
        else throw new Error(`${where}: ${nodeLabel(node)} has shape [${shape.join(", ")}], which the pruning surgery does not know how to adjust`);
      }
      if (node.opType === "Concat") {
        const past = node.input?.find((n) => inputs.has(n));
        const present = node.output?.[0] ?? "";
        if (past && outputs.has(present)) {
          if (/\.key$/.test(past)) [pastKey, presentKey] = [past, present];
          else if (/\.value$/.test(past)) [pastValue, presentValue] = [past, present];
        }
      }
    }
    if (!pastKey || !pastValue) throw new Error(`${where}: no past_key_values key/value input concatenated into a present output was found in the attention`);
    if (L.gate.n !== L.up.n || L.down.k !== L.gate.n) throw new Error(`${where}: gate/up/down widths ${L.gate.n}/${L.up.n}/${L.down.k} disagree`);
    const mlp = forwardRegion(consumers, [out("gate"), out("up")], new Set([L.down.node]));
    for (const node of mlp) {
      if (!ELEMENTWISE.has(node.opType ?? ""))
        throw new Error(`${where}: ${nodeLabel(node)} between gate/up_proj and down_proj is not elementwise; neurons cannot be removed`);
    }
    const attnAdd = throughBias(model, consumers, out("o"));
    const mlpAdd = throughBias(model, consumers, out("down"));
    if (attnAdd.node.opType !== "Add" || mlpAdd.node.opType !== "Add") throw new Error(`${where}: o_proj / down_proj do not feed residual Adds`);
    const residualIn = attnAdd.node.input!.find((n) => n !== attnAdd.value) ?? "";
    const residualOut = mlpAdd.node.output![0];
    layers.push({
      index: i,
      linears: L,
      numHeads,
      numKvHeads,
      headDim,
      intermediate: L.gate.n,
      headShapes,
      pastKey,
      pastValue,
      presentKey,
      presentValue,
      residualIn,
      residualOut,
    });
  }
  for (let i = 1; i < layers.length; i++) {
    if (layers[i].residualIn !== layers[i - 1].residualOut)
      throw new Error(`layer ${i}: its residual input is not layer ${i - 1}'s output; the blocks are not chained`);
  }
  return layers;
}

// ---------------------------------------------------------------- weights

export function readWeight(model: ModelProto, lin: Linear): Float32Array {
  return getInitializer(model, lin.weight).data as Float32Array;
}

/** The columns `keep` of a row-major [rows, cols] matrix. */
export function keepColumns(w: Float32Array, rows: number, cols: number, keep: readonly number[]): Float32Array {
  const out = new Float32Array(rows * keep.length);
  for (let r = 0; r < rows; r++) for (let j = 0; j < keep.length; j++) out[r * keep.length + j] = w[r * cols + keep[j]];
  return out;
}

/** The rows `keep` of a row-major [rows, cols] matrix. */
export function keepRows(w: Float32Array, cols: number, keep: readonly number[]): Float32Array {
  const out = new Float32Array(keep.length * cols);
  keep.forEach((r, j) => out.set(w.subarray(r * cols, (r + 1) * cols), j * cols));
  return out;
}

/** Σ_{r removed} mean[r] · W[r, :] for a row-major [rows, cols] weight: the removed inputs' mean contribution. */
export function meanContribution(w: Float32Array, cols: number, removed: readonly number[], mean: ArrayLike<number>): Float32Array {
  const acc = new Float64Array(cols);
  for (const r of removed) {
    const m = mean[r];
    if (m === 0) continue;
    for (let c = 0; c < cols; c++) acc[c] += m * w[r * cols + c];
  }
  return Float32Array.from(acc);
}

function setWeight(model: ModelProto, lin: Linear, k: number, n: number, data: Float32Array): void {
  setInitializer(model, lin.weight, [k, n], data);
  lin.k = k;
  lin.n = n;
}

/** Adds `bias` to a linear's output: the MatMul writes `<out>/matmul`, an Add restores `<out>`. */
function addOutputBias(model: ModelProto, lin: Linear, bias: Float32Array): string {
  const nodes = model.graph!.node!;
  const out = lin.node.output![0];
  const name = lin.weight.replace(/\.weight$/, ".bias");
  if (findInitializer(model, name)) throw new Error(`${name} already exists`);
  setInitializer(model, name, [bias.length], bias);
  const raw = `${out}/matmul`;
  lin.node.output![0] = raw;
  nodes.splice(nodes.indexOf(lin.node) + 1, 0, makeNode("Add", [raw, name], [out], [], { name: `${out}/bias` }));
  return name;
}

/** A per-layer copy of a Reshape's shape constant with `axis` set to `value` (the original may be shared). */
function setShapeAxis(model: ModelProto, node: NodeProto, axis: number, value: number, name: string): void {
  const shape = constShape(model, node.input![1])!;
  shape[axis] = value;
  setInitializer(model, name, [shape.length], BigInt64Array.from(shape.map(BigInt)));
  node.input![1] = name;
}

function setDim(values: readonly ValueInfoProto[] | undefined, name: string, axis: number, value: number): void {
  const v = values?.find((x) => x.name === name);
  const dim = v?.type?.tensorType?.shape?.dim?.[axis];
  if (dim) {
    dim.dimValue = value;
    delete dim.dimParam;
  }
}

export interface HeadEdit {
  /** KV groups kept (each brings its numHeads / numKvHeads query heads). */
  keepGroups: number[];
  /** Per-channel mean of the o_proj input, for the compensation bias (null: no bias). */
  mean: ArrayLike<number> | null;
}

/** Removes the attention heads of every group not in `keepGroups` from `layer`. */
export function pruneHeads(model: ModelProto, layer: LayerInfo, edit: HeadEdit): void {
  const { numHeads, numKvHeads, headDim: D } = layer;
  const rep = numHeads / numKvHeads;
  const groups = [...new Set(edit.keepGroups)].sort((a, b) => a - b);
  if (groups.length === 0) throw new Error(`layer ${layer.index}: cannot remove every attention head`);
  if (groups.some((g) => g < 0 || g >= numKvHeads || !Number.isInteger(g))) throw new Error(`layer ${layer.index}: kv group out of range`);
  if (groups.length === numKvHeads) return;
  const L = layer.linears;
  const kvCols = groups.flatMap((g) => Array.from({ length: D }, (_, d) => g * D + d));
  const qCols = groups.flatMap((g) => Array.from({ length: rep * D }, (_, d) => g * rep * D + d));
  const keptQ = new Set(qCols);
  const removedQ = Array.from({ length: numHeads * D }, (_, c) => c).filter((c) => !keptQ.has(c));
  const H = L.q.k;
  const o = readWeight(model, L.o);
  const bias = edit.mean ? meanContribution(o, L.o.n, removedQ, edit.mean) : null;
  setWeight(model, L.q, H, qCols.length, keepColumns(readWeight(model, L.q), H, L.q.n, qCols));
  setWeight(model, L.k, H, kvCols.length, keepColumns(readWeight(model, L.k), H, L.k.n, kvCols));
  setWeight(model, L.v, H, kvCols.length, keepColumns(readWeight(model, L.v), H, L.v.n, kvCols));
  setWeight(model, L.o, qCols.length, L.o.n, keepRows(o, L.o.n, qCols));
  const nh = groups.length * rep;
  const nkv = groups.length;
  layer.headShapes.forEach((s, j) => {
    const value = s.kind === "q" || s.kind === "rep" ? nh : s.kind === "kv" ? nkv : nh * D;
    setShapeAxis(model, s.node, s.axis, value, `layers.${layer.index}.self_attn.pruned_shape.${j}`);
  });
  for (const name of [layer.pastKey, layer.pastValue]) setDim(model.graph?.input, name, 1, nkv);
  for (const name of [layer.presentKey, layer.presentValue, `${NEW_KV_PREFIX}${layer.index}.key`, `${NEW_KV_PREFIX}${layer.index}.value`]) {
    setDim(model.graph?.output, name, 1, nkv);
  }
  if (bias) addOutputBias(model, L.o, bias);
  layer.numHeads = nh;
  layer.numKvHeads = nkv;
}

/** Keeps only the MLP neurons `keep` of `layer`; the removed ones' mean output goes into a down_proj bias. */
export function pruneNeurons(model: ModelProto, layer: LayerInfo, keep: number[], mean: ArrayLike<number> | null): void {
  const kept = [...new Set(keep)].sort((a, b) => a - b);
  if (kept.length === 0) throw new Error(`layer ${layer.index}: cannot remove every MLP neuron`);
  if (kept.length === layer.intermediate) return;
  const L = layer.linears;
  const H = L.gate.k;
  const I = layer.intermediate;
  const keptSet = new Set(kept);
  const removed = Array.from({ length: I }, (_, c) => c).filter((c) => !keptSet.has(c));
  const down = readWeight(model, L.down);
  const bias = mean ? meanContribution(down, L.down.n, removed, mean) : null;
  setWeight(model, L.gate, H, kept.length, keepColumns(readWeight(model, L.gate), H, I, kept));
  setWeight(model, L.up, H, kept.length, keepColumns(readWeight(model, L.up), H, I, kept));
  setWeight(model, L.down, kept.length, L.down.n, keepRows(down, L.down.n, kept));
  if (bias) addOutputBias(model, L.down, bias);
  layer.intermediate = kept.length;
}

// ---------------------------------------------------------------- layer removal

/** Drops nodes no graph output depends on, then initializers no node reads. */
export function removeDeadCode(model: ModelProto): void {
  const graph = model.graph!;
  const producers = producersOf(model);
  const live = new Set<NodeProto>();
  const stack = (graph.output ?? []).map((o) => o.name ?? "");
  const seen = new Set<string>();
  while (stack.length) {
    const name = stack.pop()!;
    if (seen.has(name)) continue;
    seen.add(name);
    const node = producers.get(name);
    if (!node || live.has(node)) continue;
    live.add(node);
    stack.push(...(node.input ?? []).filter(Boolean));
  }
  graph.node = (graph.node ?? []).filter((n) => live.has(n));
  const used = new Set(graph.node.flatMap((n) => n.input ?? []));
  for (const t of [...(graph.initializer ?? [])]) if (!used.has(t.name ?? "")) removeInitializer(model, t.name ?? "");
  if (graph.valueInfo) graph.valueInfo = graph.valueInfo.filter((v) => seen.has(v.name ?? ""));
}

function renameValue(model: ModelProto, from: string, to: string): void {
  const graph = model.graph!;
  for (const node of graph.node ?? []) {
    node.input = (node.input ?? []).map((n) => (n === from ? to : n));
    node.output = (node.output ?? []).map((n) => (n === from ? to : n));
  }
  for (const v of [...(graph.input ?? []), ...(graph.output ?? []), ...(graph.valueInfo ?? [])]) if (v.name === from) v.name = to;
  for (const t of graph.initializer ?? []) if (t.name === from) t.name = to;
}

/**
 * Removes the decoder layers `drop` (indices into `layers`): the residual stream skips them, their
 * cache inputs/outputs go, and the remaining layers' cache tensors are renumbered 0..L'-1.
 */
export function dropLayers(model: ModelProto, layers: readonly LayerInfo[], drop: readonly number[]): void {
  const set = new Set(drop);
  if (set.size >= layers.length) throw new Error(`cannot remove all ${layers.length} layers`);
  const graph = model.graph!;
  for (const i of [...set].sort((a, b) => b - a)) {
    const { residualIn, residualOut } = layers[i];
    for (const node of graph.node ?? []) node.input = (node.input ?? []).map((n) => (n === residualOut ? residualIn : n));
    const cache = [layers[i].pastKey, layers[i].pastValue];
    const present = [layers[i].presentKey, layers[i].presentValue];
    graph.input = (graph.input ?? []).filter((v) => !cache.includes(v.name ?? ""));
    const fresh = [`${NEW_KV_PREFIX}${layers[i].index}.key`, `${NEW_KV_PREFIX}${layers[i].index}.value`];
    graph.output = (graph.output ?? []).filter((v) => !present.includes(v.name ?? "") && !fresh.includes(v.name ?? ""));
  }
  removeDeadCode(model);
  let next = 0;
  for (const layer of layers) {
    if (set.has(layer.index)) continue;
    const j = next++;
    if (j === layer.index) continue;
    renameValue(model, layer.pastKey, `past_key_values.${j}.key`);
    renameValue(model, layer.pastValue, `past_key_values.${j}.value`);
    renameValue(model, layer.presentKey, `present.${j}.key`);
    renameValue(model, layer.presentValue, `present.${j}.value`);
    for (const kind of ["key", "value"]) renameValue(model, `${NEW_KV_PREFIX}${layer.index}.${kind}`, `${NEW_KV_PREFIX}${j}.${kind}`);
    // Weights and node names follow, so the result is the docs/decoder.md layout of L' layers.
    const from = `layers.${layer.index}.`;
    for (const t of graph.initializer ?? []) {
      if (t.name?.startsWith(from)) renameValue(model, t.name, `layers.${j}.${t.name.slice(from.length)}`);
    }
    for (const node of graph.node ?? []) {
      if (node.name?.startsWith(`/${from.slice(0, -1)}/`)) node.name = `/layers.${j}/${node.name.slice(from.length + 1)}`;
    }
  }
}

// ---------------------------------------------------------------- params and config

/** Parameters: elements of the float initializers named *.weight or *.bias (docs/decoder.md weights plus compensation biases). */
export function paramCount(model: ModelProto): number {
  let n = 0;
  for (const t of model.graph?.initializer ?? []) {
    if (t.dataType === DataType.FLOAT && /\.(weight|bias)$/.test(t.name ?? "")) n += numel((t.dims ?? []).map(Number));
  }
  return n;
}

/**
 * The config.json of the pruned model: the base model's config (beside its .onnx, or the graph's
 * frontier.decoder_config metadata) with num_layers updated; when layers differ in width, the
 * per-layer lists layer_num_heads, layer_num_kv_heads and layer_intermediate_size are added,
 * num_heads / num_kv_heads / intermediate_size give the largest per-layer value and head_dim is
 * stated (it no longer follows from hidden_size / num_heads). Also stored in the graph metadata.
 */
export function prunedConfig(baseModelPath: string, model: ModelProto, layers: readonly LayerInfo[]): Record<string, unknown> {
  const file = path.join(path.dirname(baseModelPath), "config.json");
  const meta = model.metadataProps?.find((p) => p.key === "frontier.decoder_config")?.value;
  const base = (fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : meta ? JSON.parse(meta) : {}) as Record<string, unknown>;
  const out: Record<string, unknown> = { ...base };
  const hfLayers = "num_hidden_layers" in base && !("num_layers" in base);
  out[hfLayers ? "num_hidden_layers" : "num_layers"] = layers.length;
  const heads = layers.map((l) => l.numHeads);
  const kv = layers.map((l) => l.numKvHeads);
  const inter = layers.map((l) => l.intermediate);
  const uniform = (a: number[]) => a.every((x) => x === a[0]);
  const key = (frontier: string, hf: string) => (hf in base && !(frontier in base) ? hf : frontier);
  out[key("num_heads", "num_attention_heads")] = Math.max(...heads);
  out[key("num_kv_heads", "num_key_value_heads")] = Math.max(...kv);
  out.intermediate_size = Math.max(...inter);
  out.head_dim = layers[0].headDim;
  delete out.layer_num_heads;
  delete out.layer_num_kv_heads;
  delete out.layer_intermediate_size;
  if (!uniform(heads) || !uniform(kv)) {
    out.layer_num_heads = heads;
    out.layer_num_kv_heads = kv;
  }
  if (!uniform(inter)) out.layer_intermediate_size = inter;
  return out;
}

/** Writes config.json beside `modelFile` and mirrors it into the graph metadata. */
export function writeConfig(modelFile: string, config: Record<string, unknown>): string {
  const file = path.join(path.dirname(modelFile), "config.json");
  fs.writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`);
  return file;
}

export function setConfigMetadata(model: ModelProto, config: Record<string, unknown>): void {
  const props = (model.metadataProps ??= []);
  const entry = props.find((p) => p.key === "frontier.decoder_config");
  if (entry) entry.value = JSON.stringify(config);
}
