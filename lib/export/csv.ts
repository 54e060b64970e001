/**
 * CSV encoding per RFC 4180 (comma separated, CRLF line ends, fields with a comma, quote, CR or LF
 * quoted and their quotes doubled), hardened against formula injection: a text cell starting with
 * =, +, -, @, tab or CR gets a leading single quote so spreadsheets show it as text.
 *
 * Numbers are written as numbers, negative ones included: a value that is a JS number is
 * serialised by String() and cannot carry a formula, and a metric column of "'-0.5" would stop
 * being numeric in every spreadsheet. Only text is neutralised.
 */
const FORMULA_START = /^[=+\-@\t\r]/;
const NEEDS_QUOTES = /[",\r\n]/;

export function csvCell(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "number") return Number.isFinite(v) ? String(v) : "";
  if (typeof v === "boolean") return v ? "true" : "false";
  let s = typeof v === "string" ? v : JSON.stringify(v);
  if (FORMULA_START.test(s)) s = `'${s}`;
  return NEEDS_QUOTES.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvLine(cells: readonly unknown[]): string {
  return cells.map(csvCell).join(",") + "\r\n";
}
