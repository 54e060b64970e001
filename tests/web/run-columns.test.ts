import { describe, expect, it } from "vitest";
import { formatRunColumns, MAX_RUN_COLUMNS, parseRunColumns, runColumnSort } from "@/lib/run-columns";

describe("runs table columns from the cols URL parameter", () => {
  it("reads metric and param columns in order, dropping repeats and malformed entries", () => {
    const cols = parseRunColumns("metric.model_bytes,param.bits,metric.model_bytes,bogus,param.,metric.bad key, metric.tokens_per_s ");
    expect(cols?.map((c) => c.id)).toEqual(["metric.model_bytes", "param.bits", "metric.tokens_per_s"]);
    expect(formatRunColumns(cols ?? [])).toBe("metric.model_bytes,param.bits,metric.tokens_per_s");
  });

  it("absent means automatic, empty means none", () => {
    expect(parseRunColumns(null)).toBeNull();
    expect(parseRunColumns("")).toEqual([]);
  });

  it("metrics sort through the API's metric.<key>; parameters are not sortable", () => {
    const [m, p] = parseRunColumns("metric.bits_effective,param.sparsity") ?? [];
    expect(runColumnSort(m)).toBe("metric.bits_effective");
    expect(runColumnSort(p)).toBeNull();
  });

  it("caps the number of columns", () => {
    const many = Array.from({ length: 40 }, (_, i) => `metric.m${i}`).join(",");
    expect(parseRunColumns(many)).toHaveLength(MAX_RUN_COLUMNS);
  });
});
