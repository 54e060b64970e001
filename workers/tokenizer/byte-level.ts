/**
 * GPT-2's reversible byte <-> printable-character map used by ByteLevel pre-tokenizers and decoders:
 * printable Latin-1 bytes map to themselves, the rest to code points from U+0100 upward.
 */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const keep: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) keep.push(b);
  for (let b = 0xa1; b <= 0xac; b++) keep.push(b);
  for (let b = 0xae; b <= 0xff; b++) keep.push(b);
  const out: string[] = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    out[b] = keep.includes(b) ? String.fromCharCode(b) : String.fromCharCode(256 + extra++);
  }
  return out;
})();

export const CHAR_TO_BYTE: ReadonlyMap<string, number> = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: false });

export function bytesToUnicode(s: string): string {
  let out = "";
  for (const b of encoder.encode(s)) out += BYTE_TO_CHAR[b];
  return out;
}

/**
 * Inverse of bytesToUnicode over a sequence of tokens. As in Hugging Face tokenizers, a token with
 * a character outside the map (an added token such as "<|endoftext|>") contributes its own UTF-8.
 */
export function unicodeToBytes(tokens: readonly string[]): string {
  const bytes: number[] = [];
  for (const t of tokens) {
    const mapped: number[] = [];
    let ok = true;
    for (const c of t) {
      const b = CHAR_TO_BYTE.get(c);
      if (b === undefined) {
        ok = false;
        break;
      }
      mapped.push(b);
    }
    if (ok) bytes.push(...mapped);
    else bytes.push(...encoder.encode(t));
  }
  return decoder.decode(new Uint8Array(bytes));
}
