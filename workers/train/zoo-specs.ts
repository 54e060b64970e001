/**
 * The zoo: three decoder sizes sharing one tokenizer, trained on the same generated data mix.
 * Step counts were sized to finish the whole zoo within the time budget on a 2-core machine
 * (docs/zoo.md records the measured times and the conditions).
 */
import type { TrainSpec } from "./trainer";
import type { DataMix } from "./batches";

export const ZOO_SEED = 20261127;
export const TOKENIZER_VOCAB = 640;
export const SEQ = 128;
/** key:value pairs per example in the recall evaluation splits. */
export const RECALL_EVAL_PAIRS = 8;
export const EXAMPLES_PER_SPLIT = 300;

const mix = (recallMaxPairs: number): DataMix => ({
  weights: { grammar: 0.35, recall: 0.35, arithmetic: 0.1, copy: 0.2 },
  recallMinPairs: 2,
  recallMaxPairs,
  recallCurriculum: 0.3,
});

const common = {
  seed: ZOO_SEED,
  seq: SEQ,
  minLrRatio: 0.1,
  weightDecay: 0.1,
  clip: 1,
  evalEvery: 100,
};

export const ZOO: readonly TrainSpec[] = [
  {
    ...common,
    name: "zoo-draft",
    config: { vocab_size: TOKENIZER_VOCAB, num_layers: 1, num_heads: 2, num_kv_heads: 2, hidden_size: 48, intermediate_size: 128, max_position: SEQ, tie_embeddings: true },
    batch: 16,
    steps: 600,
    lr: 5e-3,
    warmup: 50,
    mix: mix(12),
  },
  {
    ...common,
    name: "zoo-small",
    config: { vocab_size: TOKENIZER_VOCAB, num_layers: 3, num_heads: 4, num_kv_heads: 2, hidden_size: 96, intermediate_size: 224, max_position: SEQ, tie_embeddings: true },
    batch: 16,
    steps: 800,
    lr: 4e-3,
    warmup: 80,
    mix: mix(12),
  },
  {
    ...common,
    name: "zoo-base",
    config: { vocab_size: TOKENIZER_VOCAB, num_layers: 4, num_heads: 4, num_kv_heads: 4, hidden_size: 128, intermediate_size: 384, max_position: SEQ, tie_embeddings: false },
    batch: 16,
    steps: 2000,
    lr: 3e-3,
    warmup: 100,
    mix: mix(12),
  },
];
