/**
 * Types shared by the evaluation harness, the decoder session and the method executors.
 * Kept free of runtime imports so method modules can depend on them cheaply.
 */

/** What the harness needs from a tokenizer (workers/tokenizer's loadTokenizer returns this shape). */
export interface TextTokenizer {
  encode(text: string): number[];
  decode(ids: number[]): string;
  /** End-of-text token id, or null when the tokenizer defines none. */
  eosId: number | null;
  vocabSize: number;
}

/** Dimensions of a decoder in the optimum layout, read from the session metadata or config.json. */
export interface DecoderShape {
  numLayers: number;
  numKvHeads: number;
  /**
   * KV heads of each layer, set only where layers differ (a structurally pruned model: config.json
   * layer_num_kv_heads); numKvHeads is then layer 0's. Read with `layerKvHeads(shape, l)`.
   */
  layerKvHeads?: number[];
  headDim: number;
  vocabSize: number;
  /** Longest context the model was built for; null when neither the config nor the card says. */
  maxPosition: number | null;
  /** Whether the graph has a position_ids input (some optimum exports compute positions inside). */
  hasPositionIds: boolean;
}

/** KV heads of layer `l`. */
export const layerKvHeads = (shape: DecoderShape, l: number): number => shape.layerKvHeads?.[l] ?? shape.numKvHeads;

/** Float32 values the KV cache holds per token, over every layer (keys and values). */
export const kvFloatsPerToken = (shape: DecoderShape): number =>
  2 * shape.headDim * Array.from({ length: shape.numLayers }, (_, l) => layerKvHeads(shape, l)).reduce((a, b) => a + b, 0);

/** The KV cache as plain host arrays, one [1, kv_heads, len, head_dim] block per layer. */
export interface HostKvCache {
  length: number;
  keys: Float32Array[];
  values: Float32Array[];
}

/**
 * A stateful greedy decoder over one ORT session. Logits are returned as host Float32Arrays of
 * vocab_size floats per position; the KV cache stays inside the session object (on the GPU under
 * webgpu) between calls.
 */
export interface Decoder {
  readonly shape: DecoderShape;
  /** Tokens currently held in the KV cache. */
  readonly pastLength: number;
  /** Clears the cache and runs the prompt; returns the last position's logits. */
  prefill(ids: number[]): Promise<Float32Array>;
  /** Appends one token using the cache; returns its logits. */
  step(id: number): Promise<Float32Array>;
  /** Appends several tokens using the cache in one forward; returns [ids.length * vocab] logits. */
  extend(ids: number[]): Promise<Float32Array>;
  /** Drops cache entries beyond `length` (speculative rollback). */
  truncate(length: number): Promise<void>;
  /** Copies the cache to the host (KV eviction methods edit it and write it back). */
  readCache(): Promise<HostKvCache>;
  writeCache(cache: HostKvCache): Promise<void>;
  /** Runs the whole sequence with an empty cache and keeps nothing: [ids.length * vocab] logits. */
  forwardFull(ids: number[]): Promise<Float32Array>;
  /** Greedy generation of up to maxNew tokens; stops after a token in `stop` (which is included). */
  generate(prompt: number[], maxNew: number, stop?: ReadonlySet<number>): Promise<number[]>;
  /** log p(continuation[i] | context, continuation[<i]) for every continuation token. */
  logprobs(context: number[], continuation: number[]): Promise<number[]>;
  reset(): void;
  release(): Promise<void>;
}

export interface QualityOptions {
  /** Examples scored after the seeded shuffle (docs/datasets.md). */
  maxExamples: number;
  /** Cap on tokens per perplexity text (after left truncation to the model's context). */
  maxTokensPerText: number;
}

export interface BenchmarkOptions {
  /** Prompt length (tokens) at which prefill_ms and the request latency are measured. */
  promptLength: number;
  /** Decode steps per request (latency) and per decode timing run. */
  decodeTokens: number;
  warmup: number;
  repeats: number;
}

export interface MeasuredMetrics {
  metrics: Record<string, number>;
  notes: string[];
}
