/**
 * Weight quantization arithmetic shared by every quantization method.
 *
 * Layout: a linear weight is handled as W[N, K] row-major (one row per output channel, K input
 * features), i.e. the transpose of the ONNX MatMul initializer [K, N]. Groups run along K within a
 * row, which is what both MatMulNBits (blocks along K per output column) and blocked
 * DequantizeLinear (axis 0 of the [K, N] initializer) store.
 *
 * Codes are unsigned, q in [0, 2^bits - 1], and dequantize as  w = (q - zero) * scale.
 * Symmetric quantization fixes zero = 2^(bits-1) (the MatMulNBits default when no zero point is
 * given); asymmetric stores an integer zero per group. HQQ may leave zeros fractional.
 */

export type Bits = 2 | 3 | 4 | 8;

export interface QuantSpec {
  bits: Bits;
  /** Group length along K; 0 means one group per output channel (per-channel). */
  groupSize: number;
  symmetric: boolean;
}

export interface QuantizedWeight {
  /** Output channels. */
  rows: number;
  /** Input features (K). */
  cols: number;
  bits: Bits;
  /** Effective group length along K (cols for per-channel). */
  groupSize: number;
  symmetric: boolean;
  /** rows*cols codes, row-major [N, K]. */
  q: Uint8Array;
  /** rows*groups scales, row-major [N, groups]. */
  scales: Float32Array;
  /** rows*groups zero points in code units; all equal to 2^(bits-1) when symmetric. */
  zeros: Float32Array;
  /** False only when a solver (HQQ) left fractional zero points. */
  integerZeros: boolean;
}

export const maxCode = (bits: number): number => (1 << bits) - 1;

export function effectiveGroupSize(cols: number, groupSize: number): number {
  if (!Number.isInteger(groupSize) || groupSize < 0) throw new Error(`group size must be a non-negative integer, got ${groupSize}`);
  return groupSize === 0 || groupSize >= cols ? cols : groupSize;
}

export function groupCount(cols: number, groupSize: number): number {
  return Math.ceil(cols / effectiveGroupSize(cols, groupSize));
}

export function validateSpec(spec: QuantSpec): void {
  if (![2, 3, 4, 8].includes(spec.bits)) throw new Error(`bits must be 2, 3, 4 or 8, got ${spec.bits}`);
  effectiveGroupSize(1, spec.groupSize);
}

export interface GroupParams {
  scale: number;
  zero: number;
}

/**
 * Min-max scale and zero point of values[start, start+len) (stride 1), following the GPTQ reference
 * quantizer: the range always includes 0 (so an integer zero point exists in [0, maxq]); symmetric
 * uses max|w| on both sides with zero at the middle code; an all-zero group gets scale 1.
 */
export function minMaxParams(values: ArrayLike<number>, start: number, len: number, bits: number, symmetric: boolean): GroupParams {
  const maxq = maxCode(bits);
  let lo = 0;
  let hi = 0;
  for (let i = start; i < start + len; i++) {
    const v = values[i];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (symmetric) {
    const m = Math.max(-lo, hi);
    lo = -m;
    hi = m;
  }
  if (lo === 0 && hi === 0) {
    lo = -1;
    hi = 1;
  }
  const scale = (hi - lo) / maxq;
  const zero = symmetric ? (maxq + 1) / 2 : Math.round(-lo / scale);
  return { scale, zero };
}

export function quantizeValue(w: number, scale: number, zero: number, maxq: number): number {
  const q = Math.round(w / scale + zero);
  return q < 0 ? 0 : Math.min(q, maxq);
}

function emptyQuantized(rows: number, cols: number, spec: QuantSpec): QuantizedWeight {
  validateSpec(spec);
  const g = effectiveGroupSize(cols, spec.groupSize);
  const groups = Math.ceil(cols / g);
  return {
    rows,
    cols,
    bits: spec.bits,
    groupSize: g,
    symmetric: spec.symmetric,
    q: new Uint8Array(rows * cols),
    scales: new Float32Array(rows * groups),
    zeros: new Float32Array(rows * groups),
    integerZeros: true,
  };
}

/** Round-to-nearest of W[rows, cols] with min-max group parameters. */
export function quantizeRtn(w: ArrayLike<number>, rows: number, cols: number, spec: QuantSpec): QuantizedWeight {
  if (w.length !== rows * cols) throw new Error(`weight has ${w.length} values, expected ${rows}x${cols}`);
  const out = emptyQuantized(rows, cols, spec);
  const g = out.groupSize;
  const groups = Math.ceil(cols / g);
  const maxq = maxCode(spec.bits);
  for (let r = 0; r < rows; r++) {
    for (let gi = 0; gi < groups; gi++) {
      const start = r * cols + gi * g;
      const len = Math.min(g, cols - gi * g);
      const p = minMaxParams(w, start, len, spec.bits, spec.symmetric);
      // Scales are stored as float32: quantize against the stored value so dequantization matches.
      const scale = Math.fround(p.scale);
      out.scales[r * groups + gi] = scale;
      out.zeros[r * groups + gi] = p.zero;
      for (let i = start; i < start + len; i++) out.q[i] = quantizeValue(w[i], scale, p.zero, maxq);
    }
  }
  return out;
}

/** Ŵ[rows, cols] = (q - zero) * scale. */
export function dequantize(qw: QuantizedWeight): Float32Array {
  const { rows, cols, groupSize: g } = qw;
  const groups = Math.ceil(cols / g);
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const k = r * groups + Math.floor(c / g);
      out[r * cols + c] = (qw.q[r * cols + c] - qw.zeros[k]) * qw.scales[k];
    }
  }
  return out;
}

/** Transpose of a row-major [rows, cols] matrix. */
export function transpose(a: ArrayLike<number>, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = a[base + c];
  }
  return out;
}
/**
 * Output error of a weight change under an input distribution summarised by its Gram matrix
 * G = Σ x xᵀ (K x K): Σ_tokens ||x (Ŵ - W)ᵀ||² = Σ_n Δ_n G Δ_nᵀ, with Δ = Ŵ - W in [N, K].
 */
export function outputErrorGram(w: ArrayLike<number>, wHat: ArrayLike<number>, rows: number, cols: number, gram: Float64Array): number {
  const d = new Float64Array(cols);
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) d[c] = wHat[base + c] - w[base + c];
    for (let i = 0; i < cols; i++) {
      const di = d[i];
      if (di === 0) continue;
      const gi = i * cols;
      // G is symmetric: diagonal once, off-diagonal twice.
      let acc = gram[gi + i] * di;
      for (let j = i + 1; j < cols; j++) acc += 2 * gram[gi + j] * d[j];
      total += di * acc;
    }
  }
  return total;
}

/**
 * Storage-based bits per quantized weight of one tensor in a given container: bits of the stored
 * codes (including container padding), scales and zero points, divided by rows*cols.
 */
export interface StorageBytes {
  codes: number;
  scales: number;
  zeros: number;
}

export function bitsPerWeight(bytes: StorageBytes, weights: number): number {
  return (8 * (bytes.codes + bytes.scales + bytes.zeros)) / weights;
}
