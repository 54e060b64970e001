/**
 * Greedy speculative decoding must emit exactly the target's plain greedy tokens, whatever the
 * draft proposes: both methods (zoo-draft and zoo-small drafting for zoo-base; prompt lookup) over
 * prompts of three tasks and gamma in {1, 2, 4, 8}.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DecoderSession } from "../../workers/eval/decoder-session";
import type { TextTokenizer } from "../../workers/eval/types";
import { DraftModelGenerator, PromptLookupGenerator } from "../../workers/methods/speculative/candidates";
import { type CandidateGenerator, type DecodeOptions, plainDecode, speculativeDecode } from "../../workers/methods/speculative/loop";
import { openZoo, zooPrompts, zooTokenizer } from "./helpers";

let target: DecoderSession;
let drafts: Record<string, DecoderSession>;
let tok: TextTokenizer;

beforeAll(async () => {
  tok = await zooTokenizer();
  target = await openZoo("zoo-base");
  drafts = { "zoo-draft": await openZoo("zoo-draft"), "zoo-small": await openZoo("zoo-small") };
});
afterAll(async () => {
  await target?.release();
  for (const d of Object.values(drafts ?? {})) await d.release();
});

const MAX_NEW = 14;
const greedy = (maxNew = MAX_NEW, stop: ReadonlySet<number> = new Set()): DecodeOptions => ({
  maxNew,
  stop,
  verification: "greedy",
  temperature: 1,
  rng: () => {
    throw new Error("greedy decoding must not draw random numbers");
  },
});

describe("greedy speculative decoding equals plain greedy decoding", () => {
  it("for draft models and prompt lookup, gamma 1, 2, 4, 8, on copy, recall and grammar prompts", async () => {
    const prompts = [
      ...zooPrompts(tok, "copy-test", 4, MAX_NEW),
      ...zooPrompts(tok, "recall-test", 3, MAX_NEW),
      ...zooPrompts(tok, "grammar-test", 3, MAX_NEW),
    ];
    expect(prompts.length).toBe(10);
    const generators: Record<string, CandidateGenerator> = {
      "zoo-draft": new DraftModelGenerator(drafts["zoo-draft"]),
      "zoo-small": new DraftModelGenerator(drafts["zoo-small"]),
      "lookup-3": new PromptLookupGenerator(3),
    };
    let proposed = 0;
    let accepted = 0;
    let rejected = 0;
    for (const prompt of prompts) {
      const plain = await plainDecode(target, prompt, greedy());
      expect(plain).toEqual(await target.generate(prompt, MAX_NEW));
      for (const [name, gen] of Object.entries(generators)) {
        for (const gamma of [1, 2, 4, 8]) {
          const r = await speculativeDecode(target, gen, prompt, gamma, greedy());
          expect(r.tokens, `${name} gamma ${gamma} on "${tok.decode(prompt)}"`).toEqual(plain);
          expect(r.stats.accepted).toBeLessThanOrEqual(r.stats.proposed);
          proposed += r.stats.proposed;
          accepted += r.stats.accepted;
          rejected += r.stats.rejections;
        }
      }
    }
    // The check means something only if drafts were both accepted and rejected along the way.
    expect(accepted).toBeGreaterThan(40);
    expect(rejected).toBeGreaterThan(40);
    expect(accepted).toBeLessThan(proposed);
  }, 120_000);

  it("stops at a stop token and at maxNew exactly where plain decoding does", async () => {
    const prompts = zooPrompts(tok, "copy-test", 4, 24);
    const newline = tok.encode("\n");
    expect(newline).toHaveLength(1);
    const stop = new Set(newline);
    for (const prompt of prompts) {
      for (const maxNew of [1, 2, 7]) {
        const plain = await plainDecode(target, prompt, greedy(maxNew));
        const spec = await speculativeDecode(target, new PromptLookupGenerator(2), prompt, 4, greedy(maxNew));
        expect(spec.tokens).toEqual(plain);
      }
      const plain = await plainDecode(target, prompt, greedy(24, stop));
      expect(newline.includes(plain[plain.length - 1]) || plain.length === 24).toBe(true);
      for (const gen of [new PromptLookupGenerator(3), new DraftModelGenerator(drafts["zoo-small"])]) {
        expect((await speculativeDecode(target, gen, prompt, 8, greedy(24, stop))).tokens).toEqual(plain);
      }
    }
  });

  it("mean accepted tokens per call is 1.00 when nothing is ever drafted", async () => {
    const never = { start: async () => {}, propose: async () => ({ tokens: [], probs: null }), accepted: async () => {} };
    const prompt = zooPrompts(tok, "grammar-test", 1, 12)[0];
    const r = await speculativeDecode(target, never, prompt, 4, greedy(12));
    expect(r.tokens).toEqual(await plainDecode(target, prompt, greedy(12)));
    expect(r.stats.targetCalls).toBe(11);
    expect(r.stats.emittedByCalls / r.stats.targetCalls).toBe(1);
  });
});
