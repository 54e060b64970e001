"use client";

import { useMutation } from "@tanstack/react-query";
import { usePathname } from "next/navigation";
import { useState } from "react";
import { api } from "@/lib/api-client";
import { viewFromLocation } from "@/lib/share-state";
import { ErrorBox } from "./ui";
import { useViewParams } from "./view-params";

/** One click stores the current view and shows its short read-only link, with revoke. */
export function ShareButton() {
  const pathname = usePathname();
  const { params, readOnly } = useViewParams();
  const [expiry, setExpiry] = useState("");
  const [revoked, setRevoked] = useState(false);
  const create = useMutation({
    mutationFn: () => {
      const view = viewFromLocation(pathname, params);
      if (!view) throw new Error("this page cannot be shared");
      return api.createShare({ view, ...(expiry ? { expiresInDays: Number(expiry) } : {}) });
    },
    onSuccess: () => setRevoked(false),
  });
  const revoke = useMutation({ mutationFn: (token: string) => api.revokeShare(token), onSuccess: () => setRevoked(true) });
  if (readOnly) return null;
  const link = create.data;
  return (
    <span className="share">
      <select aria-label="share link expiry" value={expiry} onChange={(e) => setExpiry(e.target.value)}>
        <option value="">never expires</option>
        <option value="1">expires in 1 day</option>
        <option value="7">expires in 7 days</option>
        <option value="30">expires in 30 days</option>
      </select>
      <button type="button" className="secondary" onClick={() => create.mutate()} disabled={create.isPending}>
        Share view
      </button>
      {link && (
        <span className="share-link">
          <input readOnly aria-label="share link" value={link.url} size={Math.min(60, link.url.length)} onFocus={(e) => e.target.select()} />
          <button type="button" className="secondary" onClick={() => navigator.clipboard?.writeText(link.url)}>
            Copy
          </button>
          {revoked ? (
            <span className="muted">revoked</span>
          ) : (
            <button type="button" className="danger" onClick={() => revoke.mutate(link.token)} disabled={revoke.isPending}>
              Revoke
            </button>
          )}
        </span>
      )}
      <ErrorBox error={create.error ?? revoke.error} />
    </span>
  );
}
