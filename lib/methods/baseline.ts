import { z } from "zod";
import { defineMethod } from "./types";

export const baseline = defineMethod({
  id: "baseline",
  family: "baseline",
  label: "Baseline",
  summary: "The unmodified model; every compressed run's deltas and speedups are measured against it.",
  paper: null,
  params: z.strictObject({}),
  implemented: true,
});
