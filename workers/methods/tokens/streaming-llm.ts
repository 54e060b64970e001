/** tokens.streaming-llm: attention sinks plus a sliding window (mit-han-lab/streaming-llm), see run.ts and kv-decode.ts. */
import { defineExecutor } from "../types";
import { runKvPolicy } from "./run";

export default defineExecutor<{ sink_tokens: number; window: number }>({
  id: "tokens.streaming-llm",
  run: (ctx, p) =>
    runKvPolicy(ctx, { kind: "streaming", sinks: p.sink_tokens, window: p.window }, `StreamingLLM (${p.sink_tokens} sinks + ${p.window} window)`),
});
