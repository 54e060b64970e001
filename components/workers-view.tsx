"use client";

import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api } from "@/lib/api-client";
import { qk } from "@/lib/query-keys";
import { useWorkers } from "./queries";
import { Empty, ErrorBox, formatTime, Loading } from "./ui";

/** Enrolled workers with their state; an active one can be revoked (its next request is refused). */
export function WorkersView() {
  const workers = useWorkers();
  const qc = useQueryClient();
  const revoke = useMutation({
    mutationFn: (id: string) => api.revokeWorker(id),
    onSettled: () => qc.invalidateQueries({ queryKey: qk.workers() }),
  });
  if (workers.isPending) return <Loading what="workers" />;
  if (workers.error) return <ErrorBox error={workers.error} />;
  if (workers.data.length === 0) return <Empty>No worker has enrolled yet.</Empty>;
  return (
    <>
      {revoke.error && <ErrorBox error={revoke.error} />}
      <table data-testid="workers-table">
        <thead>
          <tr>
            <th>id</th>
            <th>name</th>
            <th>runtimes</th>
            <th>last heard from</th>
            <th>state</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {workers.data.map((w) => (
            <tr key={w.id}>
              <td>
                <code>{w.id}</code>
              </td>
              <td>{w.name}</td>
              <td>{w.runtimes.join(", ")}</td>
              <td>{formatTime(w.lastHeartbeatAt)}</td>
              <td title={w.status === "stale" ? "enrolled with an enrollment token that has since been rotated: it must enroll again" : undefined}>
                {w.status}
              </td>
              <td>
                {w.status === "active" && (
                  <button
                    type="button"
                    disabled={revoke.isPending}
                    onClick={() => {
                      if (window.confirm(`Revoke worker ${w.name} (${w.id})? It must enroll again to lease runs.`)) revoke.mutate(w.id);
                    }}
                  >
                    Revoke
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
