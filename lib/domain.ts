/**
 * The closed vocabularies of the data model, each written once. drizzle's `text(..., { enum })`
 * (db/schema), the zod schemas (lib/schemas), the worker and the components all read these lists,
 * so adding a value is one edit here (plus a migration only where a column constrains it in SQL;
 * SQLite text enums are typing only).
 *
 * Imports nothing: drizzle-kit loads db/schema, which imports this file, without path aliases.
 */

/**
 * What a dataset's JSONL lines hold and how the worker scores them (docs/datasets.md).
 * long-context (passkey / long-range retrieval, for the token-compression family) registers and
 * validates, but no evaluator scores it yet: a worker refuses such a run with that reason.
 */
export const DATASET_TASKS = ["perplexity", "exact-match", "multiple-choice", "recall", "long-context"] as const;
export type DatasetTask = (typeof DATASET_TASKS)[number];

/** Where a run executes (DESIGN.md, Runtimes). */
export const RUNTIMES = ["cpu", "webgpu", "wasm", "browser"] as const;
export type Runtime = (typeof RUNTIMES)[number];

/** Method families; "baseline" is the unmodified model every compressed run compares against. */
export const FAMILIES = ["baseline", "quantization", "pruning", "tokens", "speculative"] as const;
export type Family = (typeof FAMILIES)[number];

export const RUN_STATUSES = ["queued", "leased", "running", "succeeded", "failed", "canceled"] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** Statuses a run can be logged with from outside Frontier: only finished ones. */
export const LOGGED_RUN_STATUSES = ["succeeded", "failed", "canceled"] as const satisfies readonly RunStatus[];

/** "executed" by a Frontier worker or "logged" from an outside script. */
export const RUN_SOURCES = ["executed", "logged"] as const;
export type RunSource = (typeof RUN_SOURCES)[number];

export const MODEL_KINDS = ["decoder-lm", "classifier"] as const;
export type ModelKind = (typeof MODEL_KINDS)[number];

/** zoo: trained by the project; path: a user's files on the server; upload; shape: random weights, speed only. */
export const MODEL_SOURCES = ["zoo", "path", "upload", "shape"] as const;
export type ModelSource = (typeof MODEL_SOURCES)[number];
