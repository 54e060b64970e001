/**
 * Train / validation / test are disjoint by construction: every underlying item (a sentence, a
 * key:value context, an addition's operand pair, a copied word sequence) is assigned to exactly one
 * split by a hash of its canonical text, and each split's generator rejects items of the others.
 */
export type Split = "train" | "validation" | "test";
export const SPLITS: readonly Split[] = ["train", "validation", "test"];

/** FNV-1a over UTF-16 code units, then a murmur finalizer so nearby strings land far apart. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** 90% train, 5% validation, 5% test. */
export function splitOf(item: string): Split {
  const b = hash32(item) % 100;
  return b < 90 ? "train" : b < 95 ? "validation" : "test";
}

/**
 * Draws from `make` until the item falls in `split`. The items are varied enough that even the 5%
 * splits are reached within a few dozen draws; the bound only turns a broken generator into an error.
 */
export function drawInSplit<T>(split: Split, make: () => T, key: (t: T) => string): T {
  for (let i = 0; i < 10_000; i++) {
    const t = make();
    if (splitOf(key(t)) === split) return t;
  }
  throw new Error(`no ${split} item in 10000 draws: the generator has too few distinct items`);
}
