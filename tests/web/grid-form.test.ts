import { describe, expect, it } from "vitest";
import { z } from "zod";
import { controlFor, entryValues, formField, gridSize } from "@/components/grid-form";
import type { JsonSchema } from "@/lib/api-client";
import { getMethod } from "@/lib/methods";

/** The JSON Schema of a registry method's params, as GET /api/v1/methods serves it. */
const props = (id: string) => (z.toJSONSchema(getMethod(id)!.params, { io: "input" }) as JsonSchema).properties!;

describe("submission form controls from the registry's schemas", () => {
  it("gives enum-like params checkboxes, numbers bounded inputs, booleans true/false", () => {
    const rtn = props("quant.rtn");
    expect(controlFor(rtn.bits)).toEqual({ kind: "choice", options: [2, 3, 4, 8].map((v) => ({ value: v, label: String(v) })) });
    expect(controlFor(rtn.format)).toMatchObject({ kind: "choice", options: [{ value: "auto" }, { value: "matmulnbits" }, { value: "qdq" }] });
    expect(controlFor(rtn.symmetric)).toMatchObject({ kind: "choice", options: [{ value: true }, { value: false }] });
    expect(controlFor(rtn.keep_layers)).toEqual({ kind: "list" });
    const gptq = props("quant.gptq");
    expect(controlFor(gptq.damp)).toEqual({ kind: "number", integer: false, min: 0.0001, max: 0.5 });
    expect(controlFor(gptq.block_size)).toEqual({ kind: "number", integer: true, min: 8, max: 1024 });
  });

  it("turns typed lists into sweep values and names the token that is not a number", () => {
    const num = { kind: "number", integer: false } as const;
    expect(entryValues(num, { text: " 0.01, 0.1 ,0.5" })).toEqual({ values: [0.01, 0.1, 0.5] });
    expect(entryValues(num, { text: "0.01, abc" })).toEqual({ error: '"abc" is not a number' });
    expect(entryValues(num, { text: "1,,2" })).toEqual({ error: '"" is not a number' });
    expect(entryValues(num, { text: "  " })).toEqual({ values: [] });
    expect(entryValues({ kind: "list" }, { text: "lm_head, embed; lm_head" })).toEqual({ values: [["lm_head", "embed"], ["lm_head"]] });
    expect(entryValues({ kind: "choice", options: [] }, { chosen: [4, 8] })).toEqual({ values: [4, 8] });
  });

  it("counts grid points as the product of the lists", () => {
    expect(gridSize({})).toBe(1);
    expect(gridSize({ bits: [2, 4, 8], group_size: [0, 32] })).toBe(6);
  });

  it("maps server error fields back to form fields", () => {
    expect(formField("grid.bits.1")).toBe("param:bits");
    expect(formField("grid.bits")).toBe("param:bits");
    expect(formField("params[damp]")).toBe("param:damp");
    expect(formField("grid")).toBe("grid");
    expect(formField("modelId")).toBe("modelId");
    expect(formField("(root)")).toBe("(root)");
  });
});
