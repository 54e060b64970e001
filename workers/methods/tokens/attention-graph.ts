/**
 * H2O and SnapKV need attention probabilities, which a decoder graph does not output. This rewrites
 * a copy of the model so it does: every layer's attention Softmax (recognised as a Softmax whose
 * output is the first input of a MatMul, the probs @ V of docs/decoder.md and of optimum exports)
 * gets a Slice over its last `attn_window` query rows and a ReduceSum over those rows, exposed as
 * `attn_scores.<layer>` [batch, num_heads, total_length]. The window is an int64 [1] input, so one
 * model serves H2O (every query of a step) and SnapKV (the observation window of the prompt).
 * Summing in the graph keeps what comes back to the host at heads x length per layer, not the
 * heads x length^2 probabilities. A model whose Softmax count is not its layer count fails with
 * that reason.
 */
import { DataType, attr, makeNode, makeTensor, readModel, writeModel } from "../../onnx/model-io";

export function exposeAttentionScores(modelPath: string, outPath: string, numLayers: number): { layers: number } {
  const model = readModel(modelPath);
  const graph = model.graph ?? {};
  const nodes = graph.node ?? [];
  const consumers = new Map<string, { op: string; slot: number }[]>();
  for (const n of nodes) (n.input ?? []).forEach((i, slot) => consumers.set(i, [...(consumers.get(i) ?? []), { op: n.opType ?? "", slot }]));
  const softmax = nodes.filter((n) => n.opType === "Softmax" && (consumers.get(n.output?.[0] ?? "") ?? []).some((c) => c.op === "MatMul" && c.slot === 0));
  if (softmax.length !== numLayers) {
    throw new Error(
      `attention pattern not recognised: ${softmax.length} Softmax nodes feed a MatMul (probs @ V), the model has ${numLayers} layers; H2O and SnapKV need one attention Softmax per layer`,
    );
  }
  graph.input = [...(graph.input ?? []), { name: "attn_window", type: { tensorType: { elemType: DataType.INT64, shape: { dim: [{ dimValue: 1 }] } } } }];
  const init = (graph.initializer ??= []);
  init.push(makeTensor("attn_scores/ends", [1], BigInt64Array.from([2n ** 62n])), makeTensor("attn_scores/axes", [1], BigInt64Array.from([2n])));
  const added = [makeNode("Neg", ["attn_window"], ["attn_scores/starts"])];
  softmax.forEach((sm, l) => {
    const probs = sm.output![0];
    const sliced = `attn_scores/${l}/window`;
    added.push(makeNode("Slice", [probs, "attn_scores/starts", "attn_scores/ends", "attn_scores/axes"], [sliced]));
    added.push(makeNode("ReduceSum", [sliced, "attn_scores/axes"], [`attn_scores.${l}`], [attr.int("keepdims", 0)]));
    (graph.output ??= []).push({
      name: `attn_scores.${l}`,
      type: {
        tensorType: {
          elemType: DataType.FLOAT,
          shape: { dim: [{ dimParam: "batch_size" }, { dimParam: "num_heads" }, { dimParam: "total_sequence_length" }] },
        },
      },
    });
  });
  graph.node = [...nodes, ...added];
  writeModel(model, outPath);
  return { layers: numLayers };
}
