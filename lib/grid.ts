import type { z } from "zod";
import { type FieldIssue, issueMessage } from "./errors";
import type { MethodDef } from "./methods/types";
import { MAX_GRID_POINTS } from "./schemas/experiments";

/**
 * Checks every grid value against its parameter's schema in the method registry (so an issue names
 * `grid.bits[2]`), refuses repeated values and grids over MAX_GRID_POINTS. The API refuses such a
 * grid and the submission form shows the same issues before anything is sent.
 */
export function checkGrid(method: MethodDef, grid: Record<string, unknown[]>): FieldIssue[] {
  const details: FieldIssue[] = [];
  const shape = method.params.shape as Record<string, z.ZodType>;
  const names = Object.keys(grid);
  for (const name of names) {
    const field = shape[name];
    if (!field) {
      const known = Object.keys(shape);
      details.push({
        field: `grid.${name}`,
        message: `unknown parameter for ${method.id}${known.length ? ` (known: ${known.join(", ")})` : " (it takes none)"}`,
      });
      continue;
    }
    const seen = new Map<string, number>();
    grid[name].forEach((v, i) => {
      const r = field.safeParse(v);
      if (!r.success) details.push({ field: `grid.${name}[${i}]`, message: r.error.issues.map(issueMessage).join("; ") });
      // A repeated value would queue identical runs that only cost time.
      const k = JSON.stringify(v);
      const first = seen.get(k);
      if (first !== undefined) details.push({ field: `grid.${name}[${i}]`, message: `repeats grid.${name}[${first}]` });
      else seen.set(k, i);
    });
  }
  const size = gridSize(grid);
  if (size > MAX_GRID_POINTS) details.push({ field: "grid", message: `the grid has ${size} points; at most ${MAX_GRID_POINTS} per experiment` });
  return details;
}

/** Number of runs a grid expands to: the product of its lists (a param left out is one default). */
export function gridSize(grid: Record<string, unknown[]>): number {
  return Object.values(grid).reduce((n, v) => n * v.length, 1);
}

/**
 * Checks the grid (checkGrid), then expands the cartesian product and parses each point with the
 * method's strict schema so defaults fill in.
 */
export function expandGrid(method: MethodDef, grid: Record<string, unknown[]>): { points: Record<string, unknown>[]; details: FieldIssue[] } {
  const details = checkGrid(method, grid);
  if (details.length > 0) return { points: [], details };
  let points: Record<string, unknown>[] = [{}];
  for (const name of Object.keys(grid)) points = points.flatMap((p) => grid[name].map((v) => ({ ...p, [name]: v })));
  const parsed: Record<string, unknown>[] = [];
  for (const p of points) {
    const r = method.params.safeParse(p);
    if (!r.success) {
      details.push({ field: "grid", message: `point ${JSON.stringify(p)}: ${r.error.issues.map(issueMessage).join("; ")}` });
      break;
    }
    parsed.push(r.data as Record<string, unknown>);
  }
  return { points: parsed, details };
}
