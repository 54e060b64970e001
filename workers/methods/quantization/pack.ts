/**
 * Storage layouts for quantized weights.
 *
 * MatMulNBits (onnxruntime com.microsoft): B uint8 [N, blocks, block_size*bits/8] with codes of
 * output column n along K, first code in the low bits; scales [N * blocks]; zero_points either
 * uint8 packed per row ([N * ceil(blocks*bits/8)], low nibble first) or float with the shape of
 * scales; absent zero points mean 2^(bits-1). block_size is a power of two >= 16.
 *
 * DequantizeLinear (ONNX opset 21): codes as an int4/uint4/int8/uint8 tensor [K, N] (the MatMul
 * initializer's own orientation), 4-bit types packed two per byte in row-major order, low nibble
 * first; grouped scales are blocked along axis 0 ([ceil(K/g), N], block_size g), per-channel
 * scales are per-axis along axis 1 ([N]).
 */
import { DataType } from "../../onnx/model-io";
import { bitsPerWeight, type QuantizedWeight, type StorageBytes } from "./quant-math";

export interface NBitsPacked {
  K: number;
  N: number;
  bits: 4 | 8;
  blockSize: number;
  blocks: number;
  /** [N, blocks, blockSize*bits/8] */
  b: Uint8Array;
  /** [N * blocks] */
  scales: Float32Array;
  zeroPoints: Uint8Array | Float32Array | null;
  storage: StorageBytes;
}

const nextPow2 = (x: number) => 2 ** Math.ceil(Math.log2(Math.max(1, x)));

/** Block sizes onnxruntime 1.30's CPU MatMulNBits accepts (it refuses 512 and up at session creation). */
export const NBITS_MAX_BLOCK = 256;

/**
 * MatMulNBits block size for a quantized weight: its group; per-channel, one power-of-two block
 * spanning K, or blocks of 256 repeating the row's scale when K is longer than that.
 */
export function nbitsBlockSize(qw: QuantizedWeight): number {
  if (qw.groupSize < qw.cols) {
    if (qw.groupSize < 16 || qw.groupSize > NBITS_MAX_BLOCK || nextPow2(qw.groupSize) !== qw.groupSize) {
      throw new Error(`MatMulNBits needs a power-of-two block size from 16 to ${NBITS_MAX_BLOCK}, got group size ${qw.groupSize}`);
    }
    return qw.groupSize;
  }
  return Math.min(NBITS_MAX_BLOCK, Math.max(16, nextPow2(qw.cols)));
}

export function packMatMulNBits(qw: QuantizedWeight): NBitsPacked {
  if (qw.bits !== 4 && qw.bits !== 8) throw new Error(`MatMulNBits stores 4- or 8-bit codes, got ${qw.bits}-bit`);
  const bits = qw.bits;
  const K = qw.cols;
  const N = qw.rows;
  const blockSize = nbitsBlockSize(qw);
  const blocks = Math.ceil(K / blockSize);
  const groups = Math.ceil(K / qw.groupSize);
  // Per-channel weights longer than the largest block repeat their one scale (and zero) per block.
  const groupOf = (j: number) => (groups === 1 ? 0 : j);
  if (groups !== 1 && groups !== blocks) throw new Error(`internal: ${groups} groups but ${blocks} MatMulNBits blocks`);
  const blob = (blockSize * bits) / 8;
  const b = new Uint8Array(N * blocks * blob);
  for (let n = 0; n < N; n++) {
    const src = n * K;
    const dst = n * blocks * blob;
    if (bits === 8) {
      b.set(qw.q.subarray(src, src + K), dst);
    } else {
      // Blocks are contiguous per row, so code k of row n sits at nibble k of the row's blob run.
      for (let k = 0; k < K; k++) {
        const byte = dst + (k >> 1);
        b[byte] |= (k & 1) === 0 ? qw.q[src + k] : qw.q[src + k] << 4;
      }
    }
  }
  const perBlock = (src: Float32Array) => Float32Array.from({ length: N * blocks }, (_, i) => src[Math.floor(i / blocks) * groups + groupOf(i % blocks)]);
  const scales = perBlock(qw.scales);
  let zeroPoints: Uint8Array | Float32Array | null = null;
  if (!qw.symmetric) {
    const zeros = perBlock(qw.zeros);
    if (!qw.integerZeros) {
      zeroPoints = zeros;
    } else if (bits === 8) {
      zeroPoints = Uint8Array.from(zeros);
    } else {
      const perRow = Math.ceil(blocks / 2);
      zeroPoints = new Uint8Array(N * perRow);
      for (let n = 0; n < N; n++) {
        for (let j = 0; j < blocks; j++) {
          const z = zeros[n * blocks + j];
          zeroPoints[n * perRow + (j >> 1)] |= (j & 1) === 0 ? z : z << 4;
        }
      }
    }
  }
  return {
    K,
    N,
    bits,
    blockSize,
    blocks,
    b,
    scales,
    zeroPoints,
    storage: { codes: b.byteLength, scales: scales.byteLength, zeros: zeroPoints?.byteLength ?? 0 },
  };
}

export interface QdqPacked {
  /** Codes [K, N] in `dataType`; packed for 4-bit types. */
  codes: Uint8Array | Int8Array;
  dataType: number;
  /** Container bits per code (4 or 8): 2- and 3-bit codes sit in 4-bit containers. */
  containerBits: 4 | 8;
  scaleDims: number[];
  scales: Float32Array;
  zeroPoint: { dims: number[]; data: Uint8Array; dataType: number } | null;
  /** DequantizeLinear attributes. */
  axis: number;
  blockSize: number | null;
  storage: StorageBytes;
}

function pack4(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(Math.ceil(values.length / 2));
  for (let i = 0; i < values.length; i++) out[i >> 1] |= (i & 1) === 0 ? values[i] & 0x0f : (values[i] & 0x0f) << 4;
  return out;
}

/**
 * Symmetric codes become signed (q - 2^(bits-1)) in int4/int8 with no zero point; asymmetric codes
 * stay unsigned in uint4/uint8 with an integer zero point per group.
 */
export function packDequantizeLinear(qw: QuantizedWeight): QdqPacked {
  if (!qw.integerZeros) throw new Error("DequantizeLinear stores integer zero points only");
  const K = qw.cols;
  const N = qw.rows;
  const containerBits: 4 | 8 = qw.bits <= 4 ? 4 : 8;
  const g = qw.groupSize;
  const groups = Math.ceil(K / g);
  const perChannel = g === K;
  const offset = qw.symmetric ? 1 << (qw.bits - 1) : 0;
  // [N, K] codes -> [K, N] values in the container's signedness.
  const vals = new Int16Array(K * N);
  for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) vals[k * N + n] = qw.q[n * K + k] - offset;
  // Scales/zeros [N, groups] -> [groups, N] (blocked along K) or [N] (per-axis).
  const scales = new Float32Array(groups * N);
  const zeros = new Int16Array(groups * N);
  for (let n = 0; n < N; n++) {
    for (let j = 0; j < groups; j++) {
      scales[j * N + n] = qw.scales[n * groups + j];
      zeros[j * N + n] = qw.zeros[n * groups + j];
    }
  }
  const scaleDims = perChannel ? [N] : [groups, N];
  let codes: Uint8Array | Int8Array;
  let dataType: number;
  let zeroPoint: QdqPacked["zeroPoint"] = null;
  if (containerBits === 4) {
    codes = pack4(vals);
    dataType = qw.symmetric ? DataType.INT4 : DataType.UINT4;
    if (!qw.symmetric) zeroPoint = { dims: scaleDims, data: pack4(zeros), dataType: DataType.UINT4 };
  } else if (qw.symmetric) {
    codes = Int8Array.from(vals);
    dataType = DataType.INT8;
  } else {
    codes = Uint8Array.from(vals);
    dataType = DataType.UINT8;
    zeroPoint = { dims: scaleDims, data: Uint8Array.from(zeros), dataType: DataType.UINT8 };
  }
  return {
    codes,
    dataType,
    containerBits,
    scaleDims,
    scales,
    zeroPoint,
    axis: perChannel ? 1 : 0,
    blockSize: perChannel ? null : g,
    storage: { codes: codes.byteLength, scales: scales.byteLength, zeros: zeroPoint?.data.byteLength ?? 0 },
  };
}

export { bitsPerWeight };
