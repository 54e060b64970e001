"use client";

import { usePathname, useSearchParams } from "next/navigation";
import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from "react";
import { toSearchParams } from "@/lib/share-state";

export type ParamUpdates = Record<string, string | string[] | null | undefined>;

interface ViewParams {
  params: URLSearchParams;
  /** Applies updates (null removes a key); resets the page cursor unless the update sets it. */
  set: (updates: ParamUpdates) => void;
  /** A shared view: nothing that changes data is offered. */
  readOnly: boolean;
}

const FixedContext = createContext<ViewParams | null>(null);

function apply(base: URLSearchParams, updates: ParamUpdates): URLSearchParams {
  const next = new URLSearchParams(base);
  if (!("cursor" in updates)) next.delete("cursor");
  for (const [k, v] of Object.entries(updates)) {
    next.delete(k);
    if (v === null || v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) if (one !== "") next.append(k, one);
  }
  return next;
}

/**
 * A shared view keeps its state in memory: the visitor can still change axes or filters to look
 * around, but the link (and the URL) stays what the author shared.
 */
export function FixedViewParams({ query, children }: { query: Record<string, string | string[]>; children: ReactNode }) {
  const [params, setParams] = useState(() => toSearchParams(query));
  const set = useCallback((u: ParamUpdates) => setParams((p) => apply(p, u)), []);
  const value = useMemo(() => ({ params, set, readOnly: true }), [params, set]);
  return <FixedContext.Provider value={value}>{children}</FixedContext.Provider>;
}

/** The current view's state: the URL's query, so every view is a link. */
export function useViewParams(): ViewParams {
  const fixed = useContext(FixedContext);
  const sp = useSearchParams();
  const pathname = usePathname();
  const set = useCallback(
    (u: ParamUpdates) => {
      const next = apply(new URLSearchParams(sp.toString()), u).toString();
      // The native history API syncs useSearchParams without a server round trip for the page
      // (router.push would refetch the route's server payload on every filter change), and a
      // history entry per change lets Back undo a filter.
      window.history.pushState(null, "", next ? `${pathname}?${next}` : pathname);
    },
    [sp, pathname],
  );
  return useMemo(() => fixed ?? { params: new URLSearchParams(sp.toString()), set, readOnly: false }, [fixed, sp, set]);
}

/** The run filter of a view's query: one definition, shared with the server's check of a share link's reads. */
export { filterParams, isFilterKey } from "@/lib/share-scope";

/** Whether the view shows seed sets (`agg=seeds`): the explorer, runs table and compare share it. */
export function useSeedsParam(): boolean {
  return useViewParams().params.get("agg") === "seeds";
}

/**
 * The "mean over seeds" checkbox of a page, bound to `agg=seeds` in its URL; `becomes` says what a
 * seed set turns into on that page ("one point at their mean, with ± 1 sd error bars").
 */
export function SeedsToggle({ becomes }: { becomes: string }) {
  const { set } = useViewParams();
  const seeds = useSeedsParam();
  return (
    <label className="field-inline" title={`Runs that differ only by seed (same method, parameters, model, dataset, runtime and hardware) become ${becomes}`}>
      <input type="checkbox" checked={seeds} onChange={(e) => set({ agg: e.target.checked ? "seeds" : null })} /> mean over seeds
    </label>
  );
}
