import { defineExecutor } from "./types";

/**
 * The unmodified model: no transformation, so the pipeline's own quality evaluation and benchmark
 * of the base model are the whole result.
 */
export default defineExecutor<Record<string, never>>({
  id: "baseline",
  async run() {
    return { metrics: {}, artifacts: [], notes: [] };
  },
});
