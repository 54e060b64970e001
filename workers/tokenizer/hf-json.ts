/** Sections of a Hugging Face tokenizer.json shared by the tokenizers Frontier writes. */

/** The added_tokens entry of a special token. */
export function specialAddedToken(id: number, content: string) {
  return {
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  };
}

/** The model section of a plain BPE tokenizer (no dropout, prefixes, suffixes or byte fallback). */
export function bpeModel(vocab: Record<string, number>, merges: string[][], unkToken: string | null) {
  return {
    type: "BPE",
    dropout: null,
    unk_token: unkToken,
    continuing_subword_prefix: null,
    end_of_word_suffix: null,
    fuse_unk: false,
    byte_fallback: false,
    ignore_merges: false,
    vocab,
    merges,
  };
}
