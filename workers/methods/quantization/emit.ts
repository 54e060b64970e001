/**
 * Rewrites linear layers of an ONNX graph into their quantized form:
 *  - "matmulnbits": one com.microsoft MatMulNBits node (fused dequantize + matmul) in place of the
 *    MatMul, so the file really shrinks and onnxruntime runs the 4/8-bit kernel;
 *  - "qdq": an ONNX DequantizeLinear (opset 21, blocked along K) feeding the original MatMul, for
 *    2/3-bit codes (4-bit containers) and runtimes without the fused kernel.
 */
import {
  attr,
  DataType,
  findInitializer,
  findLinearWeights,
  getAttribute,
  getInitializer,
  makeNode,
  removeInitializer,
  setInitializer,
  setOpsetImport,
  type LinearWeight,
  type ModelProto,
  type NodeProto,
} from "../../onnx/model-io";
import { upgradeOpset } from "../../onnx/opset";
import type { Runtime } from "../../types";
import { packDequantizeLinear, packMatMulNBits } from "./pack";
import { transpose, type Bits, type QuantizedWeight, type StorageBytes } from "./quant-math";

export type WeightFormat = "matmulnbits" | "qdq";
export type FormatParam = "auto" | WeightFormat;

/**
 * Picks the storage format: MatMulNBits where onnxruntime has a fused kernel for the bit width on
 * the runtime (4 and 8 bits on cpu and webgpu), DequantizeLinear otherwise. The wasm EP does have
 * MatMulNBits but runs it far slower than fp32 (measured on this project's machines with
 * onnxruntime-web 1.30: 4 chained 1024x1024 GEMVs 50.7 ms vs 0.75 ms), so wasm and browser runs get
 * DequantizeLinear.
 */
export function resolveFormat(param: FormatParam, bits: Bits, runtime: Runtime, accuracyLevel: 0 | 4 = 0): WeightFormat {
  const fused = (bits === 4 || bits === 8) && (runtime === "cpu" || runtime === "webgpu");
  if (param === "matmulnbits" && bits !== 4 && bits !== 8) {
    throw new Error(`format "matmulnbits" stores 4- or 8-bit weights; ${bits}-bit needs format "qdq" or "auto"`);
  }
  const format = param === "auto" ? (fused ? "matmulnbits" : "qdq") : param;
  if (accuracyLevel === 4 && format !== "matmulnbits") {
    // qdq models are loaded with session.qdq_matmulnbits_accuracy_level 0, so they are always weight-only.
    throw new Error(
      `accuracy_level 4 (W${bits}A8, int8 activations) runs only in MatMulNBits (4/8-bit, cpu or webgpu); this run resolves to format "qdq": use accuracy_level 0`,
    );
  }
  return format;
}

export interface EmitOptions {
  /**
   * MatMulNBits accuracy_level: 4 quantizes activations to int8 per block inside the kernel, 0
   * keeps them float. Measured with onnxruntime-node 1.30 on the 2-core box, 8 chained 1024x1024
   * GEMVs (group 32): fp32 MatMul 0.67 ms; 4-bit level 0 0.73 ms, level 4 0.19 ms; 8-bit level 0
   * 154 ms (an unpacked fallback), level 4 0.25 ms.
   */
  accuracyLevel: 0 | 4;
}

const DEFAULT_EMIT: EmitOptions = { accuracyLevel: 0 };

export interface LinearTarget extends LinearWeight {
  /** The node's activation input. */
  input: string;
  /**
   * A tied output head: the MatMul reads Transpose(embedding) and the embedding initializer also
   * feeds the Gather, so it stays in float32 and the quantized head gets its own copy.
   */
  tied?: boolean;
  /**
   * The decoder layer the linear belongs to, from the graph (see `decoderLayerOf`), prefixed by the
   * rule that found it ("node:3", "flow:3"); absent when neither rule places it (the output head).
   */
  layer?: string;
}

const isTranspose2d = (node: NodeProto | undefined): node is NodeProto => {
  const perm = node?.opType === "Transpose" && (node.domain ?? "") === "" ? getAttribute(node, "perm")?.ints : undefined;
  return !!perm && perm.length === 2 && Number(perm[0]) === 1 && Number(perm[1]) === 0;
};

/**
 * Exporters that run without constant folding (torch.onnx.export with do_constant_folding=False)
 * keep `MatMul(x, Transpose(W))` for every linear. Where W is read by that Transpose only and the
 * Transpose by that MatMul only, W is replaced by W^T under the same name and the Transpose is
 * dropped, so the linear becomes an ordinary [K, N] target. Returns the weights folded.
 */
function foldWeightTransposes(model: ModelProto): string[] {
  const nodes = model.graph?.node ?? [];
  const uses = new Map<string, NodeProto[]>();
  for (const node of nodes) for (const i of node.input ?? []) uses.set(i, [...(uses.get(i) ?? []), node]);
  const outputs = new Set((model.graph?.output ?? []).map((v) => v.name ?? ""));
  const folded: string[] = [];
  const drop = new Set<NodeProto>();
  for (const t of nodes) {
    if (!isTranspose2d(t)) continue;
    const w = t.input?.[0] ?? "";
    const out = t.output?.[0] ?? "";
    const readers = uses.get(out) ?? [];
    const init = findInitializer(model, w);
    if (init?.dims?.length !== 2 || (uses.get(w) ?? []).length !== 1 || outputs.has(out)) continue;
    if (readers.length !== 1 || readers[0].opType !== "MatMul" || (readers[0].domain ?? "") !== "" || readers[0].input?.[1] !== out) continue;
    if (init.dataType !== DataType.FLOAT) continue;
    const [n, k] = init.dims.map(Number);
    setInitializer(model, w, [k, n], transpose(getInitializer(model, w).data as Float32Array, n, k));
    readers[0].input = [readers[0].input?.[0] ?? "", w, ...(readers[0].input?.slice(2) ?? [])];
    drop.add(t);
    folded.push(w);
  }
  if (drop.size && model.graph) model.graph.node = nodes.filter((n) => !drop.has(n));
  return folded;
}

/** `layers.N` (also `layer.N`, `h.N`, `blocks.N`) as a path component of a node or weight name. */
const LAYER_IN_NAME = /(?:^|[/.])(?:layers|layer|h|blocks|block)[./](\d+)(?:[/.]|$)/;

/**
 * Decoder layers from the residual stream, for graphs whose node names carry no module path. The
 * stream starts at the embedding Gather's output; a residual Add is an Add that reads the current
 * stream and whose other operand has not-yet-placed linears among its ancestors (found walking back
 * from it and stopping at any stream value); its output is the next stream value. The linears behind
 * each residual Add form one segment (Llama: attention, then MLP). Consecutive segments are grouped
 * into layers by the shortest period of their shape signature (Llama: 2 segments a layer, parallel
 * attention+MLP blocks: 1). Linears after the last residual Add (the head) get no layer.
 */
function residualLayers(model: ModelProto, linears: ReadonlySet<NodeProto>): Map<NodeProto, number> {
  const nodes = model.graph?.node ?? [];
  const producer = new Map<string, NodeProto>();
  const consumers = new Map<string, NodeProto[]>();
  for (const node of nodes) {
    for (const o of node.output ?? []) producer.set(o, node);
    for (const i of node.input ?? []) consumers.set(i, [...(consumers.get(i) ?? []), node]);
  }
  const inits = new Set((model.graph?.initializer ?? []).map((t) => t.name ?? ""));
  const embed = nodes.find((n) => n.opType === "Gather" && inits.has(n.input?.[0] ?? "") && !inits.has(n.input?.[1] ?? ""));
  const placed = new Set<NodeProto>();
  const segments: NodeProto[][] = [];
  const streams = new Set<string>();
  let stream = embed?.output?.[0];
  while (stream) {
    streams.add(stream);
    let next: string | undefined;
    for (const add of consumers.get(stream) ?? []) {
      if (add.opType !== "Add" || (add.domain ?? "") !== "") continue;
      const other = add.input?.[0] === stream ? add.input?.[1] : add.input?.[0];
      const found: NodeProto[] = [];
      const seen = new Set<string>();
      const stack = other ? [other] : [];
      while (stack.length) {
        const v = stack.pop() ?? "";
        if (seen.has(v) || streams.has(v)) continue;
        seen.add(v);
        const p = producer.get(v);
        if (!p) continue;
        if (linears.has(p) && !placed.has(p)) found.push(p);
        stack.push(...(p.input ?? []));
      }
      if (found.length === 0) continue;
      for (const f of found) placed.add(f);
      segments.push(found);
      next = add.output?.[0];
      break;
    }
    stream = next;
  }
  const signature = (seg: NodeProto[]) =>
    seg
      .map((n) => {
        const w = model.graph?.initializer?.find((t) => t.name === n.input?.[1]);
        return (w?.dims ?? []).join("x");
      })
      .sort()
      .join(",");
  const sigs = segments.map(signature);
  let period = 1;
  for (let p = 1; p <= sigs.length; p++) {
    if (sigs.length % p === 0 && sigs.every((s, i) => s === sigs[i % p])) {
      period = p;
      break;
    }
  }
  const layerOf = new Map<NodeProto, number>();
  segments.forEach((seg, i) => {
    for (const n of seg) layerOf.set(n, Math.floor(i / period));
  });
  return layerOf;
}

/**
 * The linear layers a weight quantizer may rewrite: MatMul/Gemm nodes whose float32 weight
 * initializer is used by that node only, plus a tied head (MatMul on Transpose(W) where W is also
 * read by the embedding Gather), which is quantized as a separate copy while the embedding itself
 * stays in float32. A `MatMul(x, Transpose(W))` whose W has no other reader is not a tied head: the
 * Transpose is folded into the initializer first (the model is changed in place, see
 * `foldWeightTransposes`). Weights in external data are read on demand; float16/bfloat16 weights
 * are left as they are (listed in `skipped`), since the quantized nodes carry float32 scales.
 */
export function quantizableLinears(model: ModelProto): { targets: LinearTarget[]; skipped: string[] } {
  foldWeightTransposes(model);
  const uses = new Map<string, NodeProto[]>();
  const producer = new Map<string, NodeProto>();
  for (const node of model.graph?.node ?? []) {
    for (const i of node.input ?? []) uses.set(i, [...(uses.get(i) ?? []), node]);
    for (const o of node.output ?? []) producer.set(o, node);
  }
  const targets: LinearTarget[] = [];
  const skipped: string[] = [];
  const notFloat = (name: string, dataType: number | undefined) =>
    `${name} (${dataType === DataType.FLOAT16 ? "float16" : dataType === DataType.BFLOAT16 ? "bfloat16" : `data type ${dataType}`} weight: only float32 weights are quantized)`;
  (model.graph?.node ?? []).forEach((node, nodeIndex) => {
    if (node.opType !== "MatMul" || (node.domain ?? "") !== "") return;
    const t = producer.get(node.input?.[1] ?? "");
    if (!isTranspose2d(t)) return;
    if ((uses.get(t.output?.[0] ?? "")?.length ?? 0) !== 1) return;
    const init = findInitializer(model, t.input?.[0] ?? "");
    if (init?.dims?.length !== 2) return;
    const readers = uses.get(init.name ?? "") ?? [];
    if (!readers.some((r) => r.opType === "Gather")) {
      skipped.push(`${init.name} (read through a Transpose and by ${readers.length - 1} other node(s), none an embedding Gather)`);
      return;
    }
    if (init.dataType !== DataType.FLOAT) {
      skipped.push(notFloat(init.name ?? "", init.dataType));
      return;
    }
    const [n, k] = init.dims.map(Number);
    targets.push({ node, nodeIndex, op: "MatMul", weightName: init.name ?? "", k, n, transposed: true, input: node.input?.[0] ?? "", tied: true });
  });
  for (const lin of findLinearWeights(model)) {
    if ((uses.get(lin.weightName)?.length ?? 0) !== 1) {
      skipped.push(`${lin.weightName} (shared by several nodes)`);
      continue;
    }
    const dataType = findInitializer(model, lin.weightName)?.dataType;
    if (dataType !== DataType.FLOAT) {
      skipped.push(notFloat(lin.weightName, dataType));
      continue;
    }
    if (lin.op === "Gemm") {
      const alpha = getAttribute(lin.node, "alpha")?.f ?? 1;
      const beta = getAttribute(lin.node, "beta")?.f ?? 1;
      const transA = getAttribute(lin.node, "transA")?.i ?? 0;
      if (alpha !== 1 || beta !== 1 || Number(transA) !== 0) {
        skipped.push(`${lin.weightName} (Gemm with alpha/beta/transA)`);
        continue;
      }
    }
    targets.push({ ...lin, input: lin.node.input?.[0] ?? "" });
  }
  const flow = residualLayers(model, new Set(targets.map((t) => t.node)));
  for (const t of targets) {
    const byName = LAYER_IN_NAME.exec(t.node.name ?? "")?.[1];
    const byFlow = flow.get(t.node);
    if (byName !== undefined) t.layer = `node:${byName}`;
    else if (byFlow !== undefined) t.layer = `flow:${byFlow}`;
  }
  return { targets, skipped };
}

/** The weight as [N, K] rows (one per output channel), whatever its stored orientation. */
export function readRowWeight(model: ModelProto, lin: LinearWeight): Float32Array {
  const init = getInitializer(model, lin.weightName);
  if (init.dataType !== DataType.FLOAT) throw new Error(`${lin.weightName}: only float32 weights can be quantized (data type ${init.dataType})`);
  const data = init.data as Float32Array;
  return lin.transposed ? data : transpose(data, lin.k, lin.n);
}

/** Writes new float weights [N, K] back into the initializer in its stored orientation. */
export function writeRowWeight(model: ModelProto, lin: LinearWeight, rows: Float32Array): void {
  if ((lin as LinearTarget).tied) throw new Error(`${lin.weightName} is shared with the embedding lookup; its float values cannot change`);
  const data = lin.transposed ? rows : transpose(rows, lin.n, lin.k);
  setInitializer(model, lin.weightName, lin.transposed ? [lin.n, lin.k] : [lin.k, lin.n], data);
}

const QDQ_OPSET = 21;

function nodeIndexOf(model: ModelProto, node: NodeProto): number {
  const i = model.graph?.node?.indexOf(node) ?? -1;
  if (i < 0) throw new Error(`node ${node.name} is no longer in the graph`);
  return i;
}

/**
 * Replaces one linear layer by its quantized form and returns the bytes stored for it. The node's
 * output name is kept, so the rest of the graph is untouched.
 */
export function emitQuantizedLinear(
  model: ModelProto,
  lin: LinearWeight,
  quantizedWeight: QuantizedWeight,
  format: WeightFormat,
  options: EmitOptions = DEFAULT_EMIT,
): StorageBytes {
  if (quantizedWeight.rows !== lin.n || quantizedWeight.cols !== lin.k) {
    throw new Error(`${lin.weightName}: quantized shape [${quantizedWeight.rows}, ${quantizedWeight.cols}] does not match N=${lin.n}, K=${lin.k}`);
  }
  // Blocked DequantizeLinear needs opset 21: raise it (rewriting the nodes whose signature
  // changed) before anything else changes, so that a model it refuses is left as it was.
  if (format === "qdq") upgradeOpset(model, QDQ_OPSET);
  const split = splitFractionalZeros(quantizedWeight);
  const qw = split.integer;
  const nodes = model.graph?.node ?? [];
  const [input, , bias] = lin.node.input ?? [];
  const output = lin.node.output?.[0];
  if (!input || !output) throw new Error(`${lin.node.name}: linear node without input or output`);
  const tied = (lin as LinearTarget).tied === true;
  const base = tied ? `${lin.weightName}.tied_head` : lin.weightName;
  const name = lin.node.name ?? output;
  const replacement: NodeProto[] = [];
  const linearOut = bias ? `${output}/nobias` : output;
  let storage: StorageBytes;

  if (tied) {
    // The head's Transpose of the embedding has no other reader (checked when the target was found).
    const transposeOut = lin.node.input?.[1];
    const t = nodes.findIndex((n) => n.opType === "Transpose" && n.output?.[0] === transposeOut);
    if (t >= 0) nodes.splice(t, 1);
  } else {
    removeInitializer(model, base);
  }
  const index = nodeIndexOf(model, lin.node);
  if (format === "matmulnbits") {
    const p = packMatMulNBits(qw);
    setInitializer(model, `${base}.qweight`, [p.N, p.blocks, (p.blockSize * p.bits) / 8], p.b);
    setInitializer(model, `${base}.scales`, [p.N * p.blocks], p.scales);
    const inputs = [input, `${base}.qweight`, `${base}.scales`];
    if (p.zeroPoints) {
      setInitializer(model, `${base}.zero_points`, [p.zeroPoints.length], p.zeroPoints);
      inputs.push(`${base}.zero_points`);
    }
    replacement.push(
      makeNode(
        "MatMulNBits",
        inputs,
        [linearOut],
        [
          attr.int("K", p.K),
          attr.int("N", p.N),
          attr.int("bits", p.bits),
          attr.int("block_size", p.blockSize),
          attr.int("accuracy_level", options.accuracyLevel),
        ],
        { name: `${name}/MatMulNBits`, domain: "com.microsoft" },
      ),
    );
    setOpsetImport(model, "com.microsoft", 1);
    storage = p.storage;
  } else {
    const p = packDequantizeLinear(qw);
    setInitializer(model, `${base}.qweight`, [lin.k, lin.n], p.codes, p.dataType);
    setInitializer(model, `${base}.scales`, p.scaleDims, p.scales);
    const inputs = [`${base}.qweight`, `${base}.scales`];
    if (p.zeroPoint) {
      setInitializer(model, `${base}.zero_points`, p.zeroPoint.dims, p.zeroPoint.data, p.zeroPoint.dataType);
      inputs.push(`${base}.zero_points`);
    }
    const attrs = [attr.int("axis", p.axis)];
    if (p.blockSize !== null) attrs.push(attr.int("block_size", p.blockSize));
    replacement.push(makeNode("DequantizeLinear", inputs, [`${base}.dequantized`], attrs, { name: `${name}/DequantizeLinear` }));
    replacement.push(makeNode("MatMul", [input, `${base}.dequantized`], [linearOut], [], { name: `${name}/MatMul` }));
    storage = p.storage;
  }
  let out = linearOut;
  if (split.correction) {
    // y += (x E) C: E [K, G] sums x over each group (shared by every layer with the same K and
    // group), C [G, N] = -(z - round z) * s carries the fractional part of the zero points.
    const g = qw.groupSize;
    const groups = Math.ceil(lin.k / g);
    const eName = `quant.group_sum.k${lin.k}.g${g}`;
    if (!findInitializer(model, eName)) {
      const e = new Float32Array(lin.k * groups);
      for (let k = 0; k < lin.k; k++) e[k * groups + Math.floor(k / g)] = 1;
      setInitializer(model, eName, [lin.k, groups], e);
      storage.zeros += e.byteLength;
    }
    setInitializer(model, `${base}.zero_correction`, [groups, lin.n], split.correction);
    storage.zeros += split.correction.byteLength;
    const sums = `${name}/group_sums`;
    const corr = `${name}/zero_correction`;
    const sum = bias ? `${output}/corrected` : output;
    replacement[replacement.length - 1].output = [`${linearOut}/uncorrected`];
    replacement.push(makeNode("MatMul", [input, eName], [sums], [], { name: sums }));
    replacement.push(makeNode("MatMul", [sums, `${base}.zero_correction`], [corr], [], { name: corr }));
    replacement.push(makeNode("Add", [`${linearOut}/uncorrected`, corr], [sum], [], { name: `${name}/corrected` }));
    out = sum;
  }
  if (bias) replacement.push(makeNode("Add", [out, bias], [output], [], { name: `${name}/bias` }));
  nodes.splice(index, 1, ...replacement);
  return storage;
}

/**
 * Fractional zero points (HQQ) as integer zero points the kernels store plus an exact correction:
 * (q - z) s = (q - round z) s - (z - round z) s, and the last term, summed over a group's inputs,
 * is a [groups, N] matrix applied to the per-group sums of x.
 */
export function splitFractionalZeros(qw: QuantizedWeight): { integer: QuantizedWeight; correction: Float32Array | null } {
  if (qw.integerZeros) return { integer: qw, correction: null };
  const maxq = (1 << qw.bits) - 1;
  const groups = Math.ceil(qw.cols / qw.groupSize);
  const zeros = new Float32Array(qw.zeros.length);
  const correction = new Float32Array(groups * qw.rows);
  for (let n = 0; n < qw.rows; n++) {
    for (let j = 0; j < groups; j++) {
      const z = qw.zeros[n * groups + j];
      const zr = Math.min(maxq, Math.max(0, Math.round(z)));
      zeros[n * groups + j] = zr;
      correction[j * qw.rows + n] = -(z - zr) * qw.scales[n * groups + j];
    }
  }
  return { integer: { ...qw, zeros, integerZeros: true }, correction };
}
