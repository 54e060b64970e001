/**
 * End to end: baseline experiments on zoo-base submitted through the API, executed by a real worker
 * process, reproduce the test-split scores in zoo/zoo-base/card.json.
 *
 * The card was scored by workers/train/zoo.ts with evaluateDataset, every one of the 200 examples
 * of each split, seed 0, maxTokensPerText 512 (DEFAULT_QUALITY). A worker run uses DEFAULT_QUALITY
 * and the experiment's seed (default 0), so it scores the same examples the same way: greedy exact
 * match must be equal, perplexity may differ only by summation order (a shuffle reorders the texts).
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerBundled } from "../../db/queries/bundled";
import { startApiServer, type ApiServer } from "../helpers/api-server";
import { ENROLL, runRow, startWorker, until, type WorkerProc } from "../worker/fixtures";

interface SplitScores {
  perplexity?: number;
  bits_per_byte?: number;
  exact_match?: number;
  eval_examples: number;
  eval_tokens?: number;
}
const card = JSON.parse(fs.readFileSync(path.join(process.cwd(), "zoo", "zoo-base", "card.json"), "utf8")) as {
  scores: { eval_seed: number; grammar: { test: SplitScores }; recall: { test: SplitScores }; arithmetic: { test: SplitScores } };
};

let api: ApiServer;
let worker: WorkerProc | null = null;

beforeAll(async () => {
  api = await startApiServer({ env: { FRONTIER_ENROLL_TOKEN: ENROLL } });
  registerBundled(process.cwd(), api.db);
});
afterAll(async () => {
  await worker?.stop();
  await api?.close();
});

async function submitBaseline(datasetId: string): Promise<number> {
  const res = await fetch(`${api.url}/api/v1/experiments`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      name: `zoo-base baseline on ${datasetId}`,
      modelId: "zoo-base",
      datasetId,
      runtime: "cpu",
      methodId: "baseline",
      grid: {},
      seed: card.scores.eval_seed,
    }),
  });
  expect(res.status, await res.clone().text()).toBe(201);
  const { runIds } = (await res.json()) as { runIds: number[] };
  expect(runIds).toHaveLength(1); // an empty grid is one run with the method's defaults
  return runIds[0];
}

async function metricsOf(runId: number): Promise<Record<string, number>> {
  const res = await fetch(`${api.url}/api/v1/runs/${runId}`);
  expect(res.status).toBe(200);
  const detail = (await res.json()) as { status: string; metrics: { key: string; value: number }[] };
  expect(detail.status).toBe("succeeded");
  return Object.fromEntries(detail.metrics.map((m) => [m.key, m.value]));
}

describe("zoo-base baseline through the API", () => {
  it("reproduces the card's recall, arithmetic and grammar test scores", async () => {
    const recallRun = await submitBaseline("recall-test");
    const grammarRun = await submitBaseline("grammar-test");
    // Recall is saturated (1.0); arithmetic (0.06) is an exact-match score a changed decode would move.
    const arithmeticRun = await submitBaseline("arithmetic-test");
    const all = [recallRun, grammarRun, arithmeticRun];
    // One timed request after no warm-up: the latency figures are not what this test checks.
    worker = startWorker(api, "zoo", ["--bench-repeats", "1", "--bench-warmup", "0"]);
    await until("every baseline run finished", () => all.every((id) => ["succeeded", "failed"].includes(runRow(api, id).status)), 90_000);
    for (const id of all) expect(runRow(api, id).error, worker.output()).toBeNull();

    const recall = await metricsOf(recallRun);
    const cardRecall = card.scores.recall.test;
    expect(recall.eval_examples).toBe(cardRecall.eval_examples);
    expect(recall.exact_match).toBe(cardRecall.exact_match);

    const arithmetic = await metricsOf(arithmeticRun);
    expect(arithmetic.eval_examples).toBe(card.scores.arithmetic.test.eval_examples);
    expect(arithmetic.exact_match).toBe(card.scores.arithmetic.test.exact_match);

    const grammar = await metricsOf(grammarRun);
    const cardGrammar = card.scores.grammar.test;
    expect(grammar.eval_examples).toBe(cardGrammar.eval_examples);
    expect(grammar.eval_tokens).toBe(cardGrammar.eval_tokens);
    expect(Math.abs(grammar.perplexity - cardGrammar.perplexity!) / cardGrammar.perplexity!).toBeLessThan(1e-3);
    expect(Math.abs(grammar.bits_per_byte - cardGrammar.bits_per_byte!) / cardGrammar.bits_per_byte!).toBeLessThan(1e-3);
    // The relative differences, for the record when this test is read in a log.
    console.log(
      `zoo-base test: recall EM ${recall.exact_match} (card ${cardRecall.exact_match}); ` +
        `arithmetic EM ${arithmetic.exact_match} (card ${card.scores.arithmetic.test.exact_match}); ` +
        `grammar ppl ${grammar.perplexity} (card ${cardGrammar.perplexity}, rel diff ${Math.abs(grammar.perplexity / cardGrammar.perplexity! - 1).toExponential(2)})`,
    );
  }, 120_000);
});
