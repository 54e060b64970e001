/** tokens.h2o: heavy hitters plus recent entries by accumulated attention (FMInference/H2O), see run.ts and kv-decode.ts. */
import { defineExecutor } from "../types";
import { runKvPolicy } from "./run";

export default defineExecutor<{ budget: number; recent_ratio: number }>({
  id: "tokens.h2o",
  run: (ctx, p) => runKvPolicy(ctx, { kind: "h2o", budget: p.budget, recentRatio: p.recent_ratio }, `H2O (budget ${p.budget}, recent ratio ${p.recent_ratio})`),
});
