import { describe, expect, it } from "vitest";
import { runs } from "@/db/schema";
import { runsInFlight } from "@/lib/api-client";
import { PARETO_GROUP_FIELD, paretoGroupOf, UNKNOWN_GROUP } from "@/lib/pareto";
import { PARETO_GROUPS } from "@/lib/schemas/pareto";

// The explorer colours baseline runs with the same grouping the server uses for the fronts.
describe("Pareto grouping", () => {
  const run = { family: "quantization", methodId: "quant.rtn", runtime: "cpu", hardwareKey: null };

  it("reads one run field per grouping, a missing value being its own group", () => {
    expect(PARETO_GROUPS.map((g) => paretoGroupOf(run, g))).toEqual(["quantization", "quant.rtn", "cpu", UNKNOWN_GROUP]);
    expect(paretoGroupOf({ ...run, hardwareKey: "cpu:x86_64" }, "hardware")).toBe("cpu:x86_64");
  });

  it("names a column of the runs table for every grouping", () => {
    expect(PARETO_GROUPS.map((g) => runs[PARETO_GROUP_FIELD[g]].name)).toEqual(["family", "method_id", "runtime", "hardware_key"]);
  });
});

describe("runsInFlight", () => {
  it("is true while any experiment has a queued, leased or running run", () => {
    expect(runsInFlight(undefined)).toBe(false);
    expect(runsInFlight([])).toBe(false);
    expect(runsInFlight([{ statusCounts: { succeeded: 3, failed: 1, canceled: 2 } }])).toBe(false);
    expect(runsInFlight([{ statusCounts: { queued: 0 } }])).toBe(false);
    for (const s of ["queued", "leased", "running"] as const)
      expect(runsInFlight([{ statusCounts: { succeeded: 1 } }, { statusCounts: { [s]: 1 } }])).toBe(true);
  });
});
