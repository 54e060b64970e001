/**
 * A minimal, valid Hugging Face tokenizer.json for models that come without one (shape-only
 * models have random weights, so their text is meaningless; the tokenizer only has to produce
 * valid ids for benchmarks). With vocab >= 257 it is byte-level BPE without merges: one token per
 * byte (id = byte value) and <|endoftext|> at 256. Smaller vocabularies get a character-level BPE
 * over printable ASCII with an <unk> token.
 */

import { BYTE_TO_CHAR } from "../tokenizer/byte-level";
import { bpeModel, specialAddedToken } from "../tokenizer/hf-json";

export function minimalTokenizerJson(vocabSize: number): Record<string, unknown> {
  if (vocabSize < 4) throw new Error(`vocab_size ${vocabSize} is too small for a tokenizer`);
  if (vocabSize >= 257) {
    const vocab: Record<string, number> = {};
    BYTE_TO_CHAR.forEach((ch, b) => (vocab[ch] = b));
    vocab["<|endoftext|>"] = 256;
    return {
      version: "1.0",
      truncation: null,
      padding: null,
      added_tokens: [specialAddedToken(256, "<|endoftext|>")],
      normalizer: null,
      pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
      post_processor: null,
      decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: bpeModel(vocab, [], null),
    };
  }

  const vocab: Record<string, number> = { "<|endoftext|>": 0, "<unk>": 1 };
  for (let c = 32, id = 2; c <= 126 && id < vocabSize; c++, id++) vocab[String.fromCharCode(c)] = id;
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [specialAddedToken(0, "<|endoftext|>"), specialAddedToken(1, "<unk>")],
    normalizer: null,
    pre_tokenizer: null,
    post_processor: null,
    decoder: null,
    model: bpeModel(vocab, [], "<unk>"),
  };
}
