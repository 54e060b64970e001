/** tokens.snapkv: prompt entries chosen by the observation window's pooled attention (FasterDecoding/SnapKV), see run.ts and kv-decode.ts. */
import { defineExecutor } from "../types";
import { runKvPolicy } from "./run";

export default defineExecutor<{ budget: number; window: number; kernel: number }>({
  id: "tokens.snapkv",
  run: async (ctx, p) => {
    if (p.window >= p.budget) throw new Error(`SnapKV window ${p.window} must be below the budget ${p.budget}`);
    return runKvPolicy(
      ctx,
      { kind: "snapkv", budget: p.budget, window: p.window, kernel: p.kernel },
      `SnapKV (budget ${p.budget}, window ${p.window}, kernel ${p.kernel})`,
    );
  },
});
