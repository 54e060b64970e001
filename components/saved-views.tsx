"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { usePathname } from "next/navigation";
import { useState } from "react";
import { api, type SavedView } from "@/lib/api-client";
import { qk } from "@/lib/query-keys";
import { viewFromLocation, viewHref } from "@/lib/share-state";
import { ErrorBox } from "./ui";
import { useViewParams } from "./view-params";

const PAGE_LABEL: Record<SavedView["view"]["page"], string> = { explorer: "explorer", runs: "runs", compare: "compare", experiment: "experiment" };

/** The saved views, and saving or deleting one (a deletion answers the view, so it can be put back). */
function useSavedViews(enabled: boolean) {
  const qc = useQueryClient();
  const list = useQuery({ queryKey: qk.views(), queryFn: api.savedViews, enabled });
  const invalidate = () => qc.invalidateQueries({ queryKey: qk.views() });
  const save = useMutation({ mutationFn: api.createSavedView, onSettled: invalidate });
  const remove = useMutation({ mutationFn: api.deleteSavedView, onSettled: invalidate });
  return { list, save, remove };
}

/**
 * "Saved views": name the current view of the explorer, runs or compare page and reopen any saved
 * one later. Deleting asks first and can be undone (the view is saved again under its name).
 */
export function SavedViewsMenu() {
  const pathname = usePathname();
  const { params, readOnly } = useViewParams();
  const [open, setOpen] = useState(false);
  const [name, setName] = useState("");
  const [confirming, setConfirming] = useState<number | null>(null);
  const [deleted, setDeleted] = useState<SavedView | null>(null);
  const { list, save, remove } = useSavedViews(open && !readOnly);
  if (readOnly) return null;
  const current = viewFromLocation(pathname, params);
  const views = list.data ?? [];
  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    if (!current) return;
    save.mutate({ name: name.trim(), view: current }, { onSuccess: () => setName("") });
  };
  return (
    <details className="saved-views" open={open} onToggle={(e) => setOpen((e.target as HTMLDetailsElement).open)} data-testid="saved-views">
      <summary className="button secondary">Saved views</summary>
      <div className="saved-views-panel">
        <form className="saved-views-save" onSubmit={submit}>
          <label className="field-inline">
            <span>Name</span>
            <input aria-label="view name" value={name} maxLength={80} onChange={(e) => setName(e.target.value)} placeholder="e.g. 4-bit sweep, paper" />
          </label>
          <button type="submit" disabled={!current || name.trim() === "" || save.isPending}>
            Save current view
          </button>
        </form>
        {save.isSuccess && !save.isPending && <span className="muted small">Saved “{save.data.name}”.</span>}
        <ErrorBox error={save.error ?? remove.error ?? list.error} />
        {deleted && (
          <p className="small" role="status">
            Deleted “{deleted.name}”.{" "}
            <button
              type="button"
              className="secondary small"
              onClick={() => save.mutate({ name: deleted.name, view: deleted.view }, { onSuccess: () => setDeleted(null) })}
            >
              Undo
            </button>
          </p>
        )}
        {list.isSuccess && views.length === 0 && <p className="muted small">No saved views yet.</p>}
        <ul className="saved-views-list">
          {views.map((v) => (
            <li key={v.id} data-view-id={v.id}>
              <Link href={viewHref(v.view)} prefetch={false} onClick={() => setOpen(false)}>
                {v.name}
              </Link>{" "}
              <span className="muted small">{PAGE_LABEL[v.view.page]}</span>{" "}
              {confirming === v.id ? (
                <span className="small">
                  Delete “{v.name}”?{" "}
                  <button
                    type="button"
                    className="danger small"
                    onClick={() =>
                      remove.mutate(v.id, {
                        onSuccess: (gone) => {
                          setDeleted(gone);
                          setConfirming(null);
                        },
                      })
                    }
                  >
                    Delete
                  </button>{" "}
                  <button type="button" className="secondary small" onClick={() => setConfirming(null)}>
                    Keep
                  </button>
                </span>
              ) : (
                <button type="button" className="chip-x" aria-label={`delete saved view ${v.name}`} onClick={() => setConfirming(v.id)}>
                  ×
                </button>
              )}
            </li>
          ))}
        </ul>
      </div>
    </details>
  );
}
