import { describe, it, expect } from "vitest";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { tokenizerFromJson, loadTokenizer, toJsRegex, TokenizerError } from "@/workers/tokenizer/tokenizer";
import { trainBpe } from "@/workers/tokenizer/train-bpe";
import { bytesToUnicode } from "@/workers/tokenizer/byte-level";
import { tokenizerCorpus } from "@/workers/data";

const trained = trainBpe(tokenizerCorpus(7, 400), 400);
const tok = tokenizerFromJson(trained.json);

/** A byte-level BPE over a hand-written vocabulary and merge list. */
function handBpe(merges: string[] | [string, string][], extraVocab: string[] = []) {
  const vocab: Record<string, number> = {};
  for (const c of "abcd") vocab[c] = Object.keys(vocab).length;
  for (const t of extraVocab) vocab[t] = Object.keys(vocab).length;
  return tokenizerFromJson({
    model: { type: "BPE", vocab, merges },
    pre_tokenizer: { type: "WhitespaceSplit" },
    decoder: { type: "Fuse" },
  });
}

describe("byte-level BPE round trip", () => {
  const samples = [
    "The old dogs near the river slept, and Maria ran every day in 1893.",
    "pairs: dog:42 cat:17\n dog:42\n",
    "123+458=581",
    "  leading and trailing spaces  ",
    "tabs\tand\nnewlines\r\n and  double  spaces",
    "Unicode: naïve café, Zürich, 東京, Привет, emoji 🚀🙂, combining é",
    "quotes 'it's' \"don't\" — dashes – and … ellipsis",
    "",
  ];
  for (const s of samples) {
    it(`decode(encode(s)) == s for ${JSON.stringify(s.slice(0, 30))}`, () => {
      const ids = tok.encode(s);
      expect(tok.decode(ids)).toBe(s);
      for (const id of ids) expect(id).toBeLessThan(tok.vocabSize);
    });
  }

  it("keeps every digit its own token", () => {
    const ids = tok.encode("x 1234567890 y");
    const digits = ids.map((i) => tok.idToToken(i)!).filter((t) => /\d/.test(t));
    expect(digits).toEqual([..."1234567890"]);
  });

  it("compresses the training text (merges are used)", () => {
    const text = tokenizerCorpus(8, 20).join(" ");
    expect(tok.encode(text).length).toBeLessThan(text.length / 1.5);
  });

  it("splits special tokens out of the text and can skip them", () => {
    const eos = tok.eosId!;
    const ids = tok.encode("a dog<|endoftext|>the cat");
    expect(ids).toContain(eos);
    expect(tok.decode(ids)).toBe("a dog<|endoftext|>the cat");
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe("a dogthe cat");
  });

  it("loads from a file and matches the in-memory tokenizer", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tok-"));
    const file = path.join(dir, "tokenizer.json");
    fs.writeFileSync(file, JSON.stringify(trained.json));
    const fromFile = loadTokenizer(file);
    expect(fromFile.encode("The king saw 42 birds.")).toEqual(tok.encode("The king saw 42 birds."));
    expect(fromFile.vocabSize).toBe(400);
  });

  it("is trained deterministically", () => {
    const again = trainBpe(tokenizerCorpus(7, 400), 400);
    expect(again.merges).toEqual(trained.merges);
  });
});

describe("BPE merge order", () => {
  it("applies merges by rank, lowest first", () => {
    expect(handBpe(["a b", "ab c"], ["ab", "abc"]).encode("abc").length).toBe(1);
    // "b c" outranks "a b": once bc exists, "a b" can no longer apply and no "a bc" merge exists
    const t = handBpe(["b c", "a b", "ab c"], ["bc", "ab", "abc"]);
    expect(t.encode("abc").map((i) => t.idToToken(i))).toEqual(["a", "bc"]);
    const t2 = handBpe(
      [
        ["a", "b"],
        ["b", "c"],
        ["ab", "c"],
      ],
      ["ab", "bc", "abc"],
    );
    expect(t2.encode("abc").map((i) => t2.idToToken(i))).toEqual(["abc"]);
  });

  it("merges the leftmost occurrence first when ranks tie", () => {
    const t = handBpe(["a a"], ["aa"]);
    expect(t.encode("aaa").map((i) => t.idToToken(i))).toEqual(["aa", "a"]);
  });
});

describe("tokenizer.json components", () => {
  it("converts Oniguruma scoped case-insensitivity and possessive quantifiers", () => {
    const re = toJsRegex("(?i:'s|'t)|\\p{N}{1,3}+| ?\\p{L}++");
    expect("IT'S 12345 ok".match(re)).toEqual(["IT", "'S", "123", "45", " ok"]);
  });

  it("WordLevel with Whitespace pre-tokenizer and unk", () => {
    const t = tokenizerFromJson({
      model: { type: "WordLevel", vocab: { "[UNK]": 0, hello: 1, world: 2, "!": 3 }, unk_token: "[UNK]" },
      pre_tokenizer: { type: "Whitespace" },
    });
    expect(t.encode("hello world! zebra")).toEqual([1, 2, 3, 0]);
    expect(t.decode([1, 2])).toBe("hello world");
  });

  it("Metaspace + byte fallback (sentencepiece-style models)", () => {
    const vocab: Record<string, number> = { "<unk>": 0, "▁hi": 1, "▁": 2, h: 3, i: 4 };
    for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`] = 5 + b;
    const t = tokenizerFromJson({
      model: { type: "BPE", vocab, merges: ["▁ h", "▁h i"], byte_fallback: true, unk_token: "<unk>" },
      pre_tokenizer: { type: "Metaspace", replacement: "▁", prepend_scheme: "always", split: true },
      decoder: {
        type: "Sequence",
        decoders: [
          { type: "Replace", pattern: { String: "▁" }, content: " " },
          { type: "ByteFallback" },
          { type: "Fuse" },
          { type: "Strip", content: " ", start: 1, stop: 0 },
        ],
      },
    });
    const ids = t.encode("hi é");
    expect(t.decode(ids)).toBe("hi é");
    expect(ids).toContain(5 + 0xc3);
  });

  it("Digits contiguous versus individual", () => {
    const mk = (individual: boolean) =>
      tokenizerFromJson({
        model: { type: "WordLevel", vocab: { "12": 0, "1": 1, "2": 2, a: 3 }, unk_token: "a" },
        pre_tokenizer: { type: "Digits", individual_digits: individual },
      });
    expect(mk(false).encode("12")).toEqual([0]);
    expect(mk(true).encode("12")).toEqual([1, 2]);
  });

  it("names an unsupported component", () => {
    expect(() => tokenizerFromJson({ model: { type: "Unigram", vocab: [] } })).toThrow(TokenizerError);
    expect(() => tokenizerFromJson({ model: { type: "BPE", vocab: {}, merges: [] }, normalizer: { type: "BertNormalizer" } })).toThrow(/BertNormalizer/);
    expect(() => tok.decode([tok.vocabSize + 5])).toThrow(/outside the vocabulary/);
  });

  it("maps bytes to GPT-2's printable characters", () => {
    expect(bytesToUnicode(" a\n")).toBe("ĠaĊ");
  });
});
