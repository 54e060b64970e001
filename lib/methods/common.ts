import { z } from "zod";

/** Parameter pieces several methods share, defined once. */
export const bits = z
  .union([z.literal(2), z.literal(3), z.literal(4), z.literal(8)])
  .default(4)
  .describe("Weight bit width");
export const groupSize = z
  .union([z.literal(0), z.literal(32), z.literal(64), z.literal(128)])
  .default(32)
  .describe("Quantization group along K (0 = one group per output channel)");
export const calibSamples = z.number().int().min(1).max(512).default(32).describe("Calibration sequences drawn (seeded) from the dataset's validation split");
export const sparsity = z.number().min(0).max(0.95).default(0.5).describe("Fraction of weights set to zero");
export const sparsityPattern = z.enum(["unstructured", "2:4", "4:8"]).default("unstructured").describe("Unstructured or N:M semi-structured sparsity");
