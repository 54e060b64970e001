"use client";

import { useMutation, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useState } from "react";
import { api } from "@/lib/api-client";
import { qk } from "@/lib/query-keys";
import { ErrorBox } from "./ui";

/** Adds or removes one tag on many runs in one request; lists, experiments and fronts then refetch. */
function useBulkTags() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: api.bulkTags,
    onSettled: () =>
      Promise.all([
        qc.invalidateQueries({ queryKey: qk.runs.all }),
        qc.invalidateQueries({ queryKey: qk.experiments.all }),
        qc.invalidateQueries({ queryKey: qk.pareto.all }),
      ]),
  });
}

/** What the runs table offers for its selected runs: compare (2 to 10), add or remove a tag, clear. */
export function BulkTagBar({ selected, onClear }: { selected: number[]; onClear: () => void }) {
  const [tag, setTag] = useState("");
  const tags = useBulkTags();
  const [done, setDone] = useState<string | null>(null);
  const run = (op: "add" | "remove") => {
    const t = tag.trim();
    if (!t) return;
    tags.mutate(
      { ids: selected, [op]: [t] },
      {
        onSuccess: (r) => setDone(`${op === "add" ? "Tagged" : "Untagged"} ${r.updated} of ${selected.length} run${selected.length === 1 ? "" : "s"} “${t}”.`),
      },
    );
  };
  if (selected.length === 0) return null;
  return (
    <div className="filters bulk-bar" data-testid="bulk-bar">
      <strong className="small">{selected.length} selected</strong>
      {selected.length >= 2 && selected.length <= 10 ? (
        <Link className="button" href={`/compare?ids=${selected.join(",")}`}>
          Compare {selected.length}
        </Link>
      ) : (
        <span className="muted small">compare takes 2–10 runs</span>
      )}
      <label className="field-inline">
        <span>Tag</span>
        <input aria-label="bulk tag" value={tag} maxLength={64} onChange={(e) => setTag(e.target.value)} placeholder="e.g. paper" />
      </label>
      <button type="button" onClick={() => run("add")} disabled={!tag.trim() || tags.isPending}>
        Add tag
      </button>
      <button type="button" className="secondary" onClick={() => run("remove")} disabled={!tag.trim() || tags.isPending}>
        Remove tag
      </button>
      <button type="button" className="secondary" onClick={onClear}>
        Clear selection
      </button>
      {done && !tags.isPending && (
        <span className="muted small" role="status">
          {done}
        </span>
      )}
      <ErrorBox error={tags.error} />
    </div>
  );
}
