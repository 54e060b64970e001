/**
 * A minimal, valid Hugging Face tokenizer.json for models that come without one (shape-only
 * models have random weights, so their text is meaningless; the tokenizer only has to produce
 * valid ids for benchmarks). With vocab >= 257 it is byte-level BPE without merges: one token per
 * byte (id = byte value) and <|endoftext|> at 256. Smaller vocabularies get a character-level BPE
 * over printable ASCII with an <unk> token.
 */

/** GPT-2's byte-to-unicode table: printable bytes map to themselves, the rest to U+0100 onwards. */
export function byteToUnicode(): string[] {
  const printable = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  const table: string[] = [];
  let next = 256;
  for (let b = 0; b < 256; b++) table.push(String.fromCodePoint(printable(b) ? b : next++));
  return table;
}

export function minimalTokenizerJson(vocabSize: number): Record<string, unknown> {
  if (vocabSize < 4) throw new Error(`vocab_size ${vocabSize} is too small for a tokenizer`);
  const special = (id: number, content: string) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  const bpe = (vocab: Record<string, number>, unk: string | null) => ({
    type: "BPE",
    dropout: null,
    unk_token: unk,
    continuing_subword_prefix: null,
    end_of_word_suffix: null,
    fuse_unk: false,
    byte_fallback: false,
    ignore_merges: false,
    vocab,
    merges: [],
  });

  if (vocabSize >= 257) {
    const vocab: Record<string, number> = {};
    byteToUnicode().forEach((ch, b) => (vocab[ch] = b));
    vocab["<|endoftext|>"] = 256;
    return {
      version: "1.0",
      truncation: null,
      padding: null,
      added_tokens: [special(256, "<|endoftext|>")],
      normalizer: null,
      pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
      post_processor: null,
      decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: bpe(vocab, null),
    };
  }

  const vocab: Record<string, number> = { "<|endoftext|>": 0, "<unk>": 1 };
  for (let c = 32, id = 2; c <= 126 && id < vocabSize; c++, id++) vocab[String.fromCharCode(c)] = id;
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [special(0, "<|endoftext|>"), special(1, "<unk>")],
    normalizer: null,
    pre_tokenizer: null,
    post_processor: null,
    decoder: null,
    model: bpe(vocab, "<unk>"),
  };
}
