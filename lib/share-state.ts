import type { SharePage, ViewState } from "./schemas/share";

/**
 * View-state codec: a dashboard URL (path + query) <-> the ViewState stored in a share link. The
 * page's URL is already the whole state of a view, so a share link stores exactly that.
 */
const PAGE_PATHS: Record<SharePage, string> = {
  explorer: "/",
  runs: "/runs",
  compare: "/compare",
  experiment: "/experiments",
};

/** Query keys that belong to one browser session, not to the view (a page cursor is transient). */
const TRANSIENT_KEYS = new Set(["cursor"]);

export function queryObject(sp: URLSearchParams): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of sp) {
    if (TRANSIENT_KEYS.has(k)) continue;
    const prev = out[k];
    if (prev === undefined) out[k] = v;
    else out[k] = Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

export function toSearchParams(query: Record<string, string | string[]>): URLSearchParams {
  const sp = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    for (const one of Array.isArray(v) ? v : [v]) sp.append(k, one);
  }
  return sp;
}

/** The view a dashboard location shows, or null for a location that cannot be shared. */
export function viewFromLocation(pathname: string, search: string | URLSearchParams): ViewState | null {
  const sp = typeof search === "string" ? new URLSearchParams(search) : search;
  const query = queryObject(sp);
  const path = pathname.replace(/\/+$/, "") || "/";
  if (path === "/") return { page: "explorer", query };
  if (path === "/runs") return { page: "runs", query };
  if (path === "/compare") return { page: "compare", query };
  const exp = /^\/experiments\/([0-9]{1,12})$/.exec(path);
  if (exp) return { page: "experiment", id: exp[1], query };
  return null;
}

/** The dashboard URL (path + query) of a view. */
export function viewHref(view: ViewState): string {
  const base = view.page === "experiment" ? `${PAGE_PATHS.experiment}/${view.id ?? ""}` : PAGE_PATHS[view.page];
  const qs = toSearchParams(view.query).toString();
  return qs ? `${base}?${qs}` : base;
}
