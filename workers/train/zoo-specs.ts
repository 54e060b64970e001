/**
 * The zoo: three decoder sizes sharing one tokenizer, trained on the same generated data. Each run
 * starts with a phase on short rows (48 tokens), where attention has few positions to choose from
 * and the copy/recall circuits form within a few hundred steps, then continues on 128-token rows
 * (docs/zoo.md has the measurements behind this choice and the training times).
 */
import type { TrainSpec } from "./trainer";
import type { DataMix } from "./batches";

export const ZOO_SEED = 20261127;
export const TOKENIZER_VOCAB = 640;
export const SEQ = 128;
export const SHORT_SEQ = 48;
/** key:value pairs per example in the recall evaluation splits. */
export const RECALL_EVAL_PAIRS = 8;
/** 200 = the harness's default example count, so a default baseline run scores whole splits. */
export const EXAMPLES_PER_SPLIT = 200;

const shortMix: DataMix = {
  weights: { grammar: 0.25, recall: 0.4, arithmetic: 0.1, copy: 0.25 },
  recallMinPairs: 2,
  recallMaxPairs: 6,
  recallCurriculum: 0.5,
  copyWords: [2, 5],
};

const mainMix: DataMix = {
  weights: { grammar: 0.35, recall: 0.3, arithmetic: 0.15, copy: 0.2 },
  recallMinPairs: 2,
  recallMaxPairs: 12,
  recallCurriculum: 0.2,
  copyWords: [4, 10],
};

const common = {
  seed: ZOO_SEED,
  seq: SEQ,
  batch: 16,
  minLrRatio: 0.1,
  weightDecay: 0.1,
  clip: 1,
  evalEvery: 100,
  mix: mainMix,
};

const short = (steps: number) => ({ steps, batch: 32, seq: SHORT_SEQ, mix: shortMix });

export const ZOO: readonly TrainSpec[] = [
  {
    ...common,
    name: "zoo-draft",
    config: {
      vocab_size: TOKENIZER_VOCAB,
      num_layers: 1,
      num_heads: 2,
      num_kv_heads: 2,
      hidden_size: 48,
      intermediate_size: 128,
      max_position: SEQ,
      tie_embeddings: true,
    },
    steps: 600,
    shortPhase: short(300),
    lr: 5e-3,
    warmup: 50,
  },
  {
    ...common,
    name: "zoo-small",
    config: {
      vocab_size: TOKENIZER_VOCAB,
      num_layers: 3,
      num_heads: 4,
      num_kv_heads: 2,
      hidden_size: 96,
      intermediate_size: 224,
      max_position: SEQ,
      tie_embeddings: true,
    },
    steps: 1200,
    shortPhase: short(600),
    lr: 4e-3,
    warmup: 80,
  },
  {
    ...common,
    name: "zoo-base",
    config: {
      vocab_size: TOKENIZER_VOCAB,
      num_layers: 4,
      num_heads: 4,
      num_kv_heads: 4,
      hidden_size: 128,
      intermediate_size: 384,
      max_position: SEQ,
      tie_embeddings: false,
    },
    steps: 2200,
    shortPhase: short(1000),
    lr: 3e-3,
    warmup: 100,
  },
];

/** Context of zoo-long (docs/zoo.md): long enough for a KV-cache budget to matter. */
export const LONG_SEQ = 1024;

/**
 * zoo-long: zoo-base's architecture with max_position 1024, continued from zoo-base's weights (rotary
 * positions carry no learned table, so the weights transfer) on the grammar text plus the long-range
 * tasks of workers/data/long.ts. A phase on 256-token rows, then 1024-token rows; the step count is
 * chosen by scripts/zoo-train-long.ts from a wall-clock budget.
 */
export function zooLongSpec(steps: number): TrainSpec {
  const longMix: DataMix = {
    weights: { grammar: 0.3, recall: 0.1, copy: 0.1, arithmetic: 0.05, passkey: 0.2, mqar: 0.25 },
    recallMinPairs: 2,
    recallMaxPairs: 12,
    recallCurriculum: 0,
    copyWords: [4, 10],
  };
  return {
    ...common,
    name: "zoo-long",
    config: { ...ZOO[2].config, max_position: LONG_SEQ },
    seq: LONG_SEQ,
    batch: 2,
    steps,
    shortPhase: { steps: Math.floor(steps * 0.35), batch: 8, seq: 256, mix: longMix },
    mix: longMix,
    lr: 1e-3,
    warmup: Math.min(50, Math.ceil(steps / 10)),
    evalEvery: Math.max(10, Math.ceil(steps / 2)),
  };
}

/**
 * The second stage of zoo-long, continued from the first stage's weights (docs/zoo.md): grammar rows
 * start at a document start (end-of-text at position 0, as the perplexity harness feeds a text), a
 * passkey curriculum from 16-token rows up (the first stage never learned to retrieve the digits),
 * and a larger share of passkey rows. A phase on 256-token rows, then 1024-token rows.
 */
export function zooLongStage2Spec(steps: number): TrainSpec {
  const first = zooLongSpec(steps);
  const mix: DataMix = {
    ...first.mix,
    weights: { grammar: 0.3, recall: 0.05, copy: 0.05, arithmetic: 0.05, passkey: 0.3, mqar: 0.25 },
    passkeyMinTokens: 16,
    documentStart: true,
  };
  return {
    ...first,
    seed: ZOO_SEED + 2,
    mix,
    shortPhase: { steps: Math.floor(steps * 0.4), batch: 8, seq: 256, mix },
    evalEvery: Math.max(10, Math.ceil(steps / 8)),
  };
}
