/** Prompt lookup's matcher: n from ngram down to 1, the first match, at most gamma tokens, no match -> no draft. */
import { describe, expect, it } from "vitest";
import { promptLookup } from "../../workers/methods/speculative/lookup";

describe("prompt lookup matcher", () => {
  it("continues the first earlier occurrence of the last ngram tokens", () => {
    //          0  1  2  3  4  5  6  7  8  9
    const ids = [1, 2, 3, 9, 8, 1, 2, 3, 7, 1, 2, 3];
    // last 3 = [1, 2, 3]: first at 0, continuation [9, 8, 1, 2]
    expect(promptLookup(ids, 3, 4)).toEqual([9, 8, 1, 2]);
    expect(promptLookup(ids, 3, 1)).toEqual([9]);
  });

  it("falls back from ngram to shorter n-grams, longest first", () => {
    // last 3 = [5, 6, 7] never occurs before; last 2 = [6, 7] does (index 3), as does last 1 = [7] earlier (index 0)
    const ids = [7, 40, 41, 6, 7, 42, 43, 5, 6, 7];
    expect(promptLookup(ids, 3, 2)).toEqual([42, 43]);
    // with ngram 1 only the last token is matched: its first occurrence is at 0
    expect(promptLookup(ids, 1, 2)).toEqual([40, 41]);
  });

  it("stops the draft at the end of the sequence", () => {
    const ids = [4, 5, 6, 4, 5];
    // [4, 5] first at 0 -> [6, 4, 5] (cut at gamma 8 by the sequence's end)
    expect(promptLookup(ids, 2, 8)).toEqual([6, 4, 5]);
  });

  it("returns no draft when nothing matches (a plain decoding step follows)", () => {
    expect(promptLookup([1, 2, 3, 4, 5], 3, 4)).toEqual([]);
    expect(promptLookup([1], 3, 4)).toEqual([]);
    expect(promptLookup([], 3, 4)).toEqual([]);
  });

  it("never matches the suffix with itself", () => {
    expect(promptLookup([9, 9], 2, 3)).toEqual([9]);
    expect(promptLookup([3, 1, 2], 2, 3)).toEqual([]);
  });

  it("refuses a bad ngram or gamma", () => {
    expect(() => promptLookup([1, 2], 0, 2)).toThrow(/ngram must be an integer >= 1/);
    expect(() => promptLookup([1, 2], 2, 0)).toThrow(/gamma must be an integer >= 1/);
  });
});
