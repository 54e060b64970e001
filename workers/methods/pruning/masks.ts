/**
 * Mask selection for unstructured and N:M pruning. A mask is a Uint8Array over a row-major
 * W[rows, cols] (row = output channel, col = input channel) with 1 where the weight is pruned.
 *
 * Every selector zeroes the lowest scores of a comparison group, exactly
 * floor(sparsity x group size) of them: the reference code's int(numel * sparsity) (Wanda's
 * per-row sort takes that many; its magnitude and SparseGPT thresholds `<= sorted[int(...)]` take
 * one more, which the exact count here does not). Ties are broken by position (lower index pruned
 * first), so masks are deterministic. N:M zeroes exactly N of every M consecutive input columns of
 * each row, whatever `sparsity` says (2:4 and 4:8 are 50%).
 */

export type SparsityPattern = "unstructured" | "2:4" | "4:8";

export interface NMPattern {
  n: number;
  m: number;
}

/** N and M of a semi-structured pattern; null for unstructured. */
export function nmOf(pattern: SparsityPattern): NMPattern | null {
  if (pattern === "unstructured") return null;
  const [n, m] = pattern.split(":").map(Number);
  return { n, m };
}

/** Weights pruned in a comparison group of `size` weights: floor(sparsity x size). */
export function zerosPerGroup(size: number, sparsity: number): number {
  if (!(sparsity >= 0 && sparsity < 1)) throw new Error(`sparsity must be in [0, 1), got ${sparsity}`);
  return Math.floor(size * sparsity);
}

/**
 * Marks in `mask` the `count` lowest `scores` among `positions` (indices into scores and mask),
 * lower position first among equal scores.
 */
export function markLowest(scores: ArrayLike<number>, positions: Uint32Array, count: number, mask: Uint8Array): void {
  if (count <= 0) return;
  if (count > positions.length) throw new Error(`cannot prune ${count} of ${positions.length} weights`);
  const order = Uint32Array.from(positions).sort((a, b) => scores[a] - scores[b] || a - b);
  for (let i = 0; i < count; i++) mask[order[i]] = 1;
}

const range = (n: number) => Uint32Array.from({ length: n }, (_, i) => i);

/** The whole matrix is one comparison group (magnitude pruning's convention). */
export function lowestPerMatrix(scores: ArrayLike<number>, sparsity: number): Uint8Array {
  const mask = new Uint8Array(scores.length);
  markLowest(scores, range(scores.length), zerosPerGroup(scores.length, sparsity), mask);
  return mask;
}

/** Each output row is a comparison group (Wanda's convention). */
export function lowestPerRow(scores: ArrayLike<number>, rows: number, cols: number, sparsity: number): Uint8Array {
  checkShape(scores, rows, cols);
  const mask = new Uint8Array(rows * cols);
  const k = zerosPerGroup(cols, sparsity);
  const positions = new Uint32Array(cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) positions[c] = r * cols + c;
    markLowest(scores, positions, k, mask);
  }
  return mask;
}

/**
 * The columns [c0, c1) of every row form one comparison group (SparseGPT's rows x blocksize
 * block); marks into `mask` and returns the number marked.
 */
export function lowestPerBlock(scores: ArrayLike<number>, rows: number, cols: number, c0: number, c1: number, sparsity: number, mask: Uint8Array): number {
  checkShape(scores, rows, cols);
  const width = c1 - c0;
  const positions = new Uint32Array(rows * width);
  for (let r = 0; r < rows; r++) for (let c = 0; c < width; c++) positions[r * width + c] = r * cols + c0 + c;
  const k = zerosPerGroup(positions.length, sparsity);
  markLowest(scores, positions, k, mask);
  return k;
}

/** Throws unless every row splits into whole groups of M input columns. */
export function checkNM(cols: number, nm: NMPattern, what: string): void {
  if (cols % nm.m !== 0) throw new Error(`${nm.n}:${nm.m} sparsity needs the input dimension to be a multiple of ${nm.m}; ${what} has ${cols}`);
}

/**
 * N:M: in every group of M consecutive input columns of each row (groups start at multiples of M),
 * marks the N lowest scores. Restricted to the groups starting in [c0, c1) when given.
 */
export function lowestNM(scores: ArrayLike<number>, rows: number, cols: number, nm: NMPattern, mask: Uint8Array, c0 = 0, c1 = cols): void {
  checkShape(scores, rows, cols);
  checkNM(cols, nm, "the matrix");
  if (nm.n >= nm.m || nm.n < 1) throw new Error(`N:M needs 1 <= N < M, got ${nm.n}:${nm.m}`);
  const positions = new Uint32Array(nm.m);
  for (let r = 0; r < rows; r++) {
    for (let g = c0 - (c0 % nm.m); g < c1; g += nm.m) {
      for (let i = 0; i < nm.m; i++) positions[i] = r * cols + g + i;
      markLowest(scores, positions, nm.n, mask);
    }
  }
}

/** Sets the masked weights to zero (in place) and returns how many were set. */
export function applyMask(weight: Float32Array | Float64Array, mask: Uint8Array): number {
  if (weight.length !== mask.length) throw new Error(`mask has ${mask.length} entries for ${weight.length} weights`);
  let n = 0;
  for (let i = 0; i < weight.length; i++) {
    if (mask[i]) {
      weight[i] = 0;
      n++;
    }
  }
  return n;
}

function checkShape(scores: ArrayLike<number>, rows: number, cols: number): void {
  if (scores.length !== rows * cols) throw new Error(`scores have ${scores.length} values, expected ${rows}x${cols}`);
}
