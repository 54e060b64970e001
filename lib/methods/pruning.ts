import { z } from "zod";
import { defineMethod } from "./types";
import { calibSamples, sparsity, sparsityPattern } from "./common";

export const pruneMagnitude = defineMethod({
  id: "prune.magnitude",
  family: "pruning",
  label: "Magnitude",
  summary: "Zero the smallest-magnitude weights of every linear layer.",
  paper: { title: "Learning both Weights and Connections for Efficient Neural Networks", arxiv: "1506.02626" },
  params: z.strictObject({ sparsity, pattern: sparsityPattern }),
  implemented: true,
});

export const pruneWanda = defineMethod({
  id: "prune.wanda",
  family: "pruning",
  label: "Wanda",
  summary: "Prune by |weight| x input activation norm, per output row, with no weight update.",
  paper: { title: "A Simple and Effective Pruning Approach for Large Language Models", arxiv: "2306.11695" },
  params: z.strictObject({ sparsity, pattern: sparsityPattern, calib_samples: calibSamples }),
  implemented: true,
  calibrates: () => true,
});

export const pruneSparsegpt = defineMethod({
  id: "prune.sparsegpt",
  family: "pruning",
  label: "SparseGPT",
  summary: "One-shot pruning with Hessian-based reconstruction of the remaining weights.",
  paper: { title: "SparseGPT: Massive Language Models Can Be Accurately Pruned in One-Shot", arxiv: "2301.00774" },
  params: z.strictObject({
    sparsity,
    pattern: sparsityPattern,
    calib_samples: calibSamples,
    damp: z.number().min(0.0001).max(0.5).default(0.01),
    true_sequential: z
      .boolean()
      .default(false)
      .describe("True-sequential: calibrate each group of linears sharing an input (q/k/v, o, gate/up, down) after the earlier groups of its layer are pruned"),
  }),
  implemented: true,
  calibrates: () => true,
});

export const pruneStructured = defineMethod({
  id: "prune.structured",
  family: "pruning",
  label: "Structured",
  summary: "Remove whole attention heads (kv groups) or MLP neurons by FLAP's fluctuation metric, shrinking the matrices, with bias compensation.",
  paper: { title: "Fluctuation-based Adaptive Structured Pruning for Large Language Models", arxiv: "2312.11983" },
  params: z.strictObject({
    target: z
      .enum(["heads", "neurons", "both"])
      .default("neurons")
      .describe("What is removed; both ranks heads and neurons together, a head weighted by its parameter cost (FLAP's own default)"),
    ratio: z.number().min(0.05).max(0.9).default(0.25).describe("Fraction of the targeted parameters removed"),
    calib_samples: calibSamples,
  }),
  implemented: true,
  calibrates: () => true,
});

export const pruneLayerDrop = defineMethod({
  id: "prune.layer-drop",
  family: "pruning",
  label: "Layer drop",
  summary: "Drop whole decoder layers, chosen by block influence (input/output similarity) or from the top.",
  paper: { title: "ShortGPT: Layers in Large Language Models are More Redundant Than You Expect", arxiv: "2403.03853" },
  params: z.strictObject({
    layers: z.number().int().min(1).max(64).default(1).describe("Number of layers removed"),
    criterion: z.enum(["block-influence", "last"]).default("block-influence"),
    calib_samples: calibSamples,
  }),
  implemented: true,
  calibrates: (p) => p.criterion === "block-influence",
});
