import { invalid } from "./errors";

/**
 * The runtimes a lease request asks for: a subset of those the worker registered, all of them when
 * it names none. Asking for another runtime is refused rather than narrowed, so a misconfigured
 * worker learns of it.
 */
export function leaseRuntimes<R extends string>(offered: readonly R[], asked: readonly R[] | undefined): R[] {
  const runtimes = [...(asked ?? offered)];
  const foreign = runtimes.filter((r) => !offered.includes(r));
  if (foreign.length > 0) {
    throw invalid(`runtimes ${foreign.join(", ")} are not among this worker's registered runtimes (${offered.join(", ")})`, [
      { field: "runtimes", message: "must be a subset of the registered capabilities" },
    ]);
  }
  return runtimes;
}
