import type { Db } from "../client";

/**
 * Registers the models and datasets shipped in zoo/ (idempotent). The zoo issue fills this in;
 * until the zoo exists there is nothing to register.
 */
export function registerBundled(_db: Db, _root: string): { models: number; datasets: number } {
  return { models: 0, datasets: 0 };
}
