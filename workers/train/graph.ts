/**
 * A small ONNX graph builder with reverse-mode automatic differentiation. Every tensor has a static
 * shape known at build time, so broadcast reductions and reshapes in the backward pass are resolved
 * while building and the emitted graph is plain ONNX (opset 17) that onnxruntime runs as one session.
 *
 * Each differentiable op records a closure on a tape; backward() replays the tape in reverse and
 * emits the gradient nodes, summing contributions when a tensor feeds several ops.
 */
import { attr, encodeModel, makeNode, makeTensor, DataType, type NodeProto, type TensorProto, type ValueInfoProto } from "../onnx/model-io";

export const OPSET = 17;

type Shape = number[];

const numel = (s: Shape) => s.reduce((p, d) => p * d, 1);

export class GraphBuilder {
  private nodes: NodeProto[] = [];
  private inits: TensorProto[] = [];
  private inputs: ValueInfoProto[] = [];
  private outputs: ValueInfoProto[] = [];
  private shapes = new Map<string, Shape>();
  private tape: (() => void)[] = [];
  private grads = new Map<string, string>();
  /** Tensors whose gradient is wanted (weights and everything computed from them). */
  private differentiable = new Set<string>();
  private counter = 0;
  private constCache = new Map<string, string>();

  shape(name: string): Shape {
    const s = this.shapes.get(name);
    if (!s) throw new Error(`graph: unknown tensor ${name}`);
    return s;
  }

  private fresh(hint: string): string {
    return `${hint}_${this.counter++}`;
  }

  input(name: string, shape: Shape, dataType: number = DataType.FLOAT, differentiable = false): string {
    this.inputs.push(valueInfo(name, shape, dataType));
    this.shapes.set(name, shape);
    if (differentiable) this.differentiable.add(name);
    return name;
  }

  output(name: string, dataType: number = DataType.FLOAT): void {
    this.outputs.push(valueInfo(name, this.shape(name), dataType));
  }

  /** A float constant initializer (cached by content key). */
  constF(values: Float32Array | number[], shape: Shape, key?: string): string {
    const k = key ?? `f:${shape.join("x")}:${Array.from(values).join(",")}`;
    const hit = this.constCache.get(k);
    if (hit) return hit;
    const name = this.fresh("const");
    this.inits.push(makeTensor(name, shape, values instanceof Float32Array ? values : Float32Array.from(values)));
    this.shapes.set(name, shape);
    this.constCache.set(k, name);
    return name;
  }

  constI64(values: number[], shape: Shape = [values.length]): string {
    const k = `i:${shape.join("x")}:${values.join(",")}`;
    const hit = this.constCache.get(k);
    if (hit) return hit;
    const name = this.fresh("const");
    this.inits.push(makeTensor(name, shape, BigInt64Array.from(values.map(BigInt))));
    this.shapes.set(name, shape);
    this.constCache.set(k, name);
    return name;
  }

  /** Emits a raw node with a known output shape; not differentiated unless the caller records a rule. */
  raw(op: string, inputs: string[], shape: Shape, attrs: ReturnType<typeof attr.int>[] = [], hint = op.toLowerCase()): string {
    const out = this.fresh(hint);
    this.nodes.push(makeNode(op, inputs, [out], attrs, { name: out }));
    this.shapes.set(out, shape);
    return out;
  }

  private isDiff(...names: string[]): boolean {
    return names.some((n) => this.differentiable.has(n));
  }

  private record(out: string, deps: string[], rule: (g: string) => void): void {
    if (!this.isDiff(...deps)) return;
    this.differentiable.add(out);
    this.tape.push(() => {
      const g = this.grads.get(out);
      if (g) rule(g);
    });
  }

  private acc(name: string, g: string): void {
    if (!this.differentiable.has(name)) return;
    const s = this.shape(name);
    const gs = this.shape(g);
    if (gs.join() !== s.join()) throw new Error(`graph: gradient of ${name} has shape [${gs}] not [${s}]`);
    const prev = this.grads.get(name);
    this.grads.set(name, prev ? this.raw("Add", [prev, g], s, [], "gacc") : g);
  }

  /** Sums `g` over the axes along which `target` was broadcast to g's shape. */
  private unbroadcast(g: string, target: Shape): string {
    const gs = this.shape(g);
    if (gs.join() === target.join()) return g;
    const offset = gs.length - target.length;
    const axes: number[] = [];
    for (let i = 0; i < gs.length; i++) {
      const t = i < offset ? 1 : target[i - offset];
      if (t === 1 && gs[i] !== 1) axes.push(i);
    }
    const keep = gs.map((d, i) => (axes.includes(i) ? 1 : d));
    let r = axes.length ? this.raw("ReduceSum", [g, this.constI64(axes)], keep, [attr.int("keepdims", 1)]) : g;
    if (keep.join() !== target.join()) r = this.raw("Reshape", [r, this.constI64(target)], target);
    return r;
  }

  // ------------------------------------------------------------ differentiable ops

  /** Y = op(A) op(B) on 2-D tensors. */
  gemm(a: string, b: string, transA = false, transB = false): string {
    const [ar, ac] = this.shape(a);
    const [br, bc] = this.shape(b);
    const [m, k1] = transA ? [ac, ar] : [ar, ac];
    const [k2, n] = transB ? [bc, br] : [br, bc];
    if (k1 !== k2) throw new Error(`gemm: inner dims ${k1} vs ${k2}`);
    const attrs = [];
    if (transA) attrs.push(attr.int("transA", 1));
    if (transB) attrs.push(attr.int("transB", 1));
    const out = this.raw("Gemm", [a, b], [m, n], attrs, "gemm");
    this.record(out, [a, b], (g) => {
      if (!transA && !transB) {
        this.acc(a, this.gemmNoGrad(g, b, false, true));
        this.acc(b, this.gemmNoGrad(a, g, true, false));
      } else if (!transA && transB) {
        this.acc(a, this.gemmNoGrad(g, b, false, false));
        this.acc(b, this.gemmNoGrad(g, a, true, false));
      } else if (transA && !transB) {
        this.acc(a, this.gemmNoGrad(b, g, false, true));
        this.acc(b, this.gemmNoGrad(a, g, false, false));
      } else throw new Error("gemm: transA and transB together are not differentiated");
    });
    return out;
  }

  private gemmNoGrad(a: string, b: string, transA: boolean, transB: boolean): string {
    if (!this.isDiff(a) && !this.isDiff(b)) {
      // fall through: plain node
    }
    const [ar, ac] = this.shape(a);
    const [br, bc] = this.shape(b);
    const m = transA ? ac : ar;
    const n = transB ? br : bc;
    const attrs = [];
    if (transA) attrs.push(attr.int("transA", 1));
    if (transB) attrs.push(attr.int("transB", 1));
    return this.raw("Gemm", [a, b], [m, n], attrs, "ggemm");
  }

  /** Batched MatMul over the last two axes (same leading dims). */
  matmul(a: string, b: string): string {
    const as = this.shape(a);
    const bs = this.shape(b);
    if (as.length !== bs.length || as[as.length - 1] !== bs[bs.length - 2]) throw new Error(`matmul: [${as}] @ [${bs}]`);
    const out = this.raw("MatMul", [a, b], [...as.slice(0, -1), bs[bs.length - 1]], [], "matmul");
    this.record(out, [a, b], (g) => {
      if (this.isDiff(a)) this.acc(a, this.raw("MatMul", [g, this.transposeLast(b)], as));
      if (this.isDiff(b)) this.acc(b, this.raw("MatMul", [this.transposeLast(a), g], bs));
    });
    return out;
  }

  private transposeLast(x: string): string {
    const s = this.shape(x);
    const perm = s.map((_, i) => i);
    [perm[s.length - 2], perm[s.length - 1]] = [perm[s.length - 1], perm[s.length - 2]];
    return this.raw(
      "Transpose",
      [x],
      perm.map((p) => s[p]),
      [attr.ints("perm", perm)],
    );
  }

  private broadcastShape(a: Shape, b: Shape): Shape {
    const n = Math.max(a.length, b.length);
    const out: Shape = [];
    for (let i = 0; i < n; i++) {
      const x = a[a.length - n + i] ?? 1;
      const y = b[b.length - n + i] ?? 1;
      if (x !== y && x !== 1 && y !== 1) throw new Error(`broadcast: [${a}] vs [${b}]`);
      out.push(Math.max(x, y));
    }
    return out;
  }

  add(a: string, b: string): string {
    const out = this.raw("Add", [a, b], this.broadcastShape(this.shape(a), this.shape(b)));
    this.record(out, [a, b], (g) => {
      this.acc(a, this.unbroadcast(g, this.shape(a)));
      this.acc(b, this.unbroadcast(g, this.shape(b)));
    });
    return out;
  }

  mul(a: string, b: string): string {
    const out = this.raw("Mul", [a, b], this.broadcastShape(this.shape(a), this.shape(b)));
    this.record(out, [a, b], (g) => {
      if (this.isDiff(a)) this.acc(a, this.unbroadcast(this.raw("Mul", [g, b], this.shape(out)), this.shape(a)));
      if (this.isDiff(b)) this.acc(b, this.unbroadcast(this.raw("Mul", [g, a], this.shape(out)), this.shape(b)));
    });
    return out;
  }

  reshape(x: string, shape: Shape): string {
    const xs = this.shape(x);
    if (numel(xs) !== numel(shape)) throw new Error(`reshape: [${xs}] to [${shape}]`);
    const out = this.raw("Reshape", [x, this.constI64(shape)], shape);
    this.record(out, [x], (g) => this.acc(x, this.raw("Reshape", [g, this.constI64(xs)], xs)));
    return out;
  }

  transpose(x: string, perm: number[]): string {
    const xs = this.shape(x);
    const out = this.raw(
      "Transpose",
      [x],
      perm.map((p) => xs[p]),
      [attr.ints("perm", perm)],
    );
    const inv = perm.map((_, i) => perm.indexOf(i));
    this.record(out, [x], (g) => this.acc(x, this.raw("Transpose", [g], xs, [attr.ints("perm", inv)])));
    return out;
  }

  /** Embedding lookup; the gradient is onehot^T @ g (a [N, V] x [N, H] Gemm). */
  gather(table: string, ids2d: string, onehot: string): string {
    const [, h] = this.shape(table);
    const [n] = this.shape(ids2d);
    const out = this.raw("Gather", [table, ids2d], [n, h], [attr.int("axis", 0)]);
    this.record(out, [table], (g) => this.acc(table, this.gemmNoGrad(onehot, g, true, false)));
    return out;
  }

  /** RMSNorm over the last axis of a 2-D [N, H] tensor: x / sqrt(mean(x^2) + eps) * w. */
  rmsnorm(x: string, w: string, eps: number): string {
    const [n, h] = this.shape(x);
    const sq = this.raw("Mul", [x, x], [n, h]);
    const ms = this.raw("ReduceMean", [sq], [n, 1], [attr.ints("axes", [1]), attr.int("keepdims", 1)]);
    const r = this.raw("Reciprocal", [this.raw("Sqrt", [this.raw("Add", [ms, this.constF([eps], [1])], [n, 1])], [n, 1])], [n, 1]);
    const u = this.raw("Mul", [x, r], [n, h]);
    const out = this.raw("Mul", [u, w], [n, h]);
    this.record(out, [x, w], (g) => {
      if (this.isDiff(w)) this.acc(w, this.unbroadcast(this.raw("Mul", [g, u], [n, h]), [h]));
      if (this.isDiff(x)) {
        const du = this.raw("Mul", [g, w], [n, h]);
        const m = this.raw("ReduceMean", [this.raw("Mul", [du, u], [n, h])], [n, 1], [attr.ints("axes", [1]), attr.int("keepdims", 1)]);
        const inner = this.raw("Sub", [du, this.raw("Mul", [u, m], [n, h])], [n, h]);
        this.acc(x, this.raw("Mul", [inner, r], [n, h]));
      }
    });
    return out;
  }

  /** silu(a) * b, elementwise. */
  swiglu(a: string, b: string): string {
    const s = this.shape(a);
    const sig = this.raw("Sigmoid", [a], s);
    const silu = this.raw("Mul", [a, sig], s);
    const out = this.raw("Mul", [silu, b], s);
    this.record(out, [a, b], (g) => {
      if (this.isDiff(b)) this.acc(b, this.raw("Mul", [g, silu], s));
      if (this.isDiff(a)) {
        // d silu / da = sig * (1 + a * (1 - sig))
        const one = this.constF([1], [1]);
        const oneMinus = this.raw("Sub", [one, sig], s);
        const d = this.raw("Mul", [sig, this.raw("Add", [one, this.raw("Mul", [a, oneMinus], s)], s)], s);
        this.acc(a, this.raw("Mul", [this.raw("Mul", [g, b], s), d], s));
      }
    });
    return out;
  }

  /**
   * Rotary embedding, rotate-half convention, on x of shape [..., d] with cos/sin broadcastable to it:
   * y = x*cos + rot(x)*sin with rot(x) = cat(-x2, x1). rot is antisymmetric, so dx = g*cos - rot(g*sin).
   */
  rotary(x: string, cos: string, sin: string): string {
    const s = this.shape(x);
    const y = this.raw("Add", [this.raw("Mul", [x, cos], s), this.raw("Mul", [this.rotateHalf(x), sin], s)], s);
    this.record(y, [x], (g) => {
      const gs = this.raw("Mul", [g, sin], s);
      this.acc(x, this.raw("Sub", [this.raw("Mul", [g, cos], s), this.rotateHalf(gs)], s));
    });
    return y;
  }

  private rotateHalf(x: string): string {
    const s = this.shape(x);
    const d = s[s.length - 1];
    const half = [...s.slice(0, -1), d / 2];
    const axis = s.length - 1;
    const x1 = this.fresh("x1");
    const x2 = this.fresh("x2");
    this.nodes.push(makeNode("Split", [x, this.constI64([d / 2, d / 2])], [x1, x2], [attr.int("axis", axis)], { name: x1 }));
    this.shapes.set(x1, half);
    this.shapes.set(x2, half);
    return this.raw("Concat", [this.raw("Neg", [x2], half), x1], s, [attr.int("axis", axis)]);
  }

  /** Softmax over the last axis; dS = p * (g - sum(g * p)). */
  softmax(x: string): string {
    const s = this.shape(x);
    const axis = s.length - 1;
    const p = this.raw("Softmax", [x], s, [attr.int("axis", axis)]);
    this.record(p, [x], (g) => {
      const keep = [...s.slice(0, -1), 1];
      const dot = this.raw("ReduceSum", [this.raw("Mul", [g, p], s), this.constI64([axis])], keep, [attr.int("keepdims", 1)]);
      this.acc(x, this.raw("Mul", [p, this.raw("Sub", [g, dot], s)], s));
    });
    return p;
  }

  /**
   * Masked mean cross-entropy: -sum_i w_i * log softmax(logits_i)[target_i], where the weights w
   * (already divided by their sum) select the scored positions. logits [N, V], onehot [N, V], w [N, 1].
   */
  crossEntropy(logits: string, onehot: string, w: string): string {
    const s = this.shape(logits);
    const logp = this.raw("LogSoftmax", [logits], s, [attr.int("axis", 1)]);
    const picked = this.raw("ReduceSum", [this.raw("Mul", [logp, onehot], s), this.constI64([1])], [s[0], 1], [attr.int("keepdims", 1)]);
    const weighted = this.raw("Mul", [picked, w], [s[0], 1]);
    const total = this.raw("ReduceSum", [weighted, this.constI64([0, 1])], [], [attr.int("keepdims", 0)]);
    const loss = this.raw("Neg", [total], [], [], "loss");
    this.record(loss, [logits], (g) => {
      // g is the scalar seed (1): d loss / d logits = (softmax - onehot) * w
      const p = this.raw("Exp", [logp], s);
      const d = this.raw("Mul", [this.raw("Sub", [p, onehot], s), w], s);
      this.acc(logits, this.raw("Mul", [d, g], s));
    });
    return loss;
  }

  /** Runs the tape backward from a scalar loss; returns the gradient tensor of each requested input. */
  backward(loss: string, wrt: string[]): Map<string, string> {
    this.grads.set(loss, this.constF([1], []));
    for (let i = this.tape.length - 1; i >= 0; i--) this.tape[i]();
    const out = new Map<string, string>();
    for (const w of wrt) {
      const g = this.grads.get(w);
      if (!g) throw new Error(`graph: ${w} does not influence the loss`);
      out.set(w, g);
    }
    return out;
  }

  /** Names a tensor as a graph output under `name` (an Identity node). */
  expose(tensor: string, name: string): void {
    this.nodes.push(makeNode("Identity", [tensor], [name], [], { name: `expose_${name}` }));
    this.shapes.set(name, this.shape(tensor));
    this.output(name);
  }

  toBytes(graphName: string): Uint8Array {
    return encodeModel({
      irVersion: 8,
      opsetImport: [{ domain: "", version: OPSET }],
      producerName: "frontier-train",
      graph: { name: graphName, node: this.nodes, initializer: this.inits, input: this.inputs, output: this.outputs },
    });
  }
}

function valueInfo(name: string, shape: Shape, elemType: number): ValueInfoProto {
  return { name, type: { tensorType: { elemType, shape: { dim: shape.map((d) => ({ dimValue: d })) } } } };
}
