/**
 * CSV encoding per RFC 4180 (comma separated, CRLF line ends, fields with a comma, quote, CR or LF
 * quoted and their quotes doubled), hardened against formula injection: a text cell starting with
 * =, +, -, @, tab or CR gets a leading single quote so spreadsheets show it as text.
 *
 * Numbers are written as numbers, negative ones included: a value that is a JS number is
 * serialised by String() and cannot carry a formula, and a metric column of "'-0.5" would stop
 * being numeric in every spreadsheet. Only text is neutralised.
 */
const NEEDS_QUOTES = /[",\r\n]/;

/** = + - @ tab CR, by char code (a hot path: 3.5M cells in an export of 100k runs). */
function startsFormula(s: string): boolean {
  const c = s.charCodeAt(0);
  return c === 61 || c === 43 || c === 45 || c === 64 || c === 9 || c === 13;
}

export function csvCell(v: unknown): string {
  if (typeof v === "number") return Number.isFinite(v) ? String(v) : "";
  if (v === null || v === undefined) return "";
  if (typeof v === "boolean") return v ? "true" : "false";
  let s = typeof v === "string" ? v : JSON.stringify(v);
  if (s.length === 0) return s;
  if (startsFormula(s)) s = `'${s}`;
  return NEEDS_QUOTES.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvLine(cells: readonly unknown[]): string {
  return cells.map(csvCell).join(",") + "\r\n";
}
