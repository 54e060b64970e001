/**
 * Prompt lookup (Saxena 2023; transformers' PromptLookupCandidateGenerator): the last n tokens of
 * the sequence, n from `maxNgram` down to 1, are searched for earlier in the sequence (the prompt
 * and the text generated so far); the first match's continuation, up to `gamma` tokens, is the
 * draft. No match gives no draft, and the step is a plain decoding step.
 */
export function promptLookup(ids: readonly number[], maxNgram: number, gamma: number): number[] {
  if (!(Number.isInteger(maxNgram) && maxNgram >= 1)) throw new Error(`ngram must be an integer >= 1, got ${maxNgram}`);
  if (!(Number.isInteger(gamma) && gamma >= 1)) throw new Error(`gamma must be an integer >= 1, got ${gamma}`);
  const len = ids.length;
  for (let n = Math.min(maxNgram, len - 1); n >= 1; n--) {
    const tail = len - n;
    // Windows start at 0 .. len-n-1 (the suffix itself is not a match); the first one wins.
    for (let s = 0; s + n < len; s++) {
      let same = true;
      for (let j = 0; j < n; j++) {
        if (ids[s + j] !== ids[tail + j]) {
          same = false;
          break;
        }
      }
      if (!same) continue;
      const from = s + n;
      const out = ids.slice(from, Math.min(from + gamma, len));
      if (out.length > 0) return out;
    }
  }
  return [];
}
