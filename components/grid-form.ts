/**
 * The submission form's grid logic, kept free of React so it can be tested on its own: which control
 * a param gets from its JSON Schema, how a typed list becomes sweep values, and where a server
 * error detail belongs.
 */
import type { JsonSchema } from "@/lib/api-client";

// The grid checks themselves are the API's own (lib/grid.ts).
export { checkGrid, gridSize } from "@/lib/grid";

export type Control =
  | { kind: "choice"; options: { value: unknown; label: string }[] }
  | { kind: "number"; integer: boolean; min?: number; max?: number }
  | { kind: "list" }
  | { kind: "text" };

/** The control a param gets, read from its JSON Schema (the registry's zod schema, as the API serves it). */
export function controlFor(s: JsonSchema): Control {
  const consts = (s.anyOf ?? s.oneOf)?.map((o) => o.const);
  if (consts && consts.length > 0 && consts.every((c) => c !== undefined))
    return { kind: "choice", options: consts.map((c) => ({ value: c, label: String(c) })) };
  if (s.enum) return { kind: "choice", options: s.enum.map((c) => ({ value: c, label: String(c) })) };
  if (s.type === "boolean")
    return {
      kind: "choice",
      options: [
        { value: true, label: "true" },
        { value: false, label: "false" },
      ],
    };
  if (s.type === "number" || s.type === "integer")
    return { kind: "number", integer: s.type === "integer", min: s.minimum ?? s.exclusiveMinimum, max: s.maximum ?? s.exclusiveMaximum };
  if (s.type === "array") return { kind: "list" };
  return { kind: "text" };
}

/** What the user entered for one param: chosen options, or the text of a comma-separated list. */
export type Entry = { chosen: unknown[] } | { text: string };

/** The values a param sweeps over, or the message for the first token that is not a value at all. */
export function entryValues(control: Control, entry: Entry | undefined): { values: unknown[] } | { error: string } {
  if (!entry) return { values: [] };
  if ("chosen" in entry) return { values: entry.chosen };
  const text = entry.text.trim();
  if (text === "") return { values: [] };
  // A list-valued param (e.g. keep_layers) takes one list per sweep point, separated by ";".
  if (control.kind === "list")
    return {
      values: text.split(";").map((l) =>
        l
          .split(",")
          .map((t) => t.trim())
          .filter(Boolean),
      ),
    };
  const tokens = text.split(",").map((t) => t.trim());
  if (control.kind === "number") {
    const out: number[] = [];
    for (const t of tokens) {
      const n = t === "" ? NaN : Number(t);
      if (!Number.isFinite(n)) return { error: `"${t}" is not a number` };
      out.push(n);
    }
    return { values: out };
  }
  return { values: tokens.filter(Boolean) };
}

/** Maps a server detail field ("grid.bits.1", "modelId") to the form field it belongs to. */
export function formField(field: string): string {
  const parts = field.split(/[.[\]]+/).filter(Boolean);
  if (parts[0] === "grid" || parts[0] === "params") return parts[1] ? `param:${parts[1]}` : "grid";
  return parts[0] ?? "(form)";
}
