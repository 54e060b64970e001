import type { z } from "zod";

import type { Family } from "../domain";

export { FAMILIES, type Family } from "../domain";

export interface Paper {
  title: string;
  /** arXiv identifier, e.g. "2210.17323"; null where the method has no arXiv paper. */
  arxiv: string | null;
  url?: string;
}

export interface MethodDef<S extends z.ZodObject = z.ZodObject> {
  id: string;
  family: Family;
  label: string;
  summary: string;
  paper: Paper | null;
  /** Strict zod object: defaults, bounds and enums; unknown keys are rejected. */
  params: S;
  /**
   * Whether a worker executor exists for this method. Unimplemented methods are listed (so the
   * roadmap is visible) but the API refuses to queue runs for them.
   */
  implemented: boolean;
  /**
   * Whether a run with these (parsed) params draws calibration data. Such a run needs a registered
   * validation split of its dataset and fails before any work when there is none.
   */
  calibrates?: (params: z.output<S>) => boolean;
  /**
   * Ids of other registered models these (parsed) params name (a speculative draft). The API
   * refuses to queue a run naming an unregistered one, and the lease carries their files.
   */
  models?: (params: z.output<S>) => string[];
}

export const defineMethod = <S extends z.ZodObject>(m: MethodDef<S>): MethodDef<S> => m;
