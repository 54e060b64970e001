import { lookupShareLink } from "@/db/queries/share";

export const dynamic = "force-dynamic";

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A standalone page, so a gone link answers with its real status (a page component cannot say 410). */
function page(status: 404 | 410, state: string, title: string, text: string): Response {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex">
<title>${escapeHtml(title)} · Frontier</title>
<style>body{margin:0;background:#f7f8fa;color:#1b1f24;font:14px ui-sans-serif,system-ui,sans-serif}
header{background:#111827;padding:10px 20px}header a{color:#fff;font-weight:700;font-size:16px;text-decoration:none}
.card{max-width:640px;margin:40px auto;background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:14px 20px}
h1{font-size:20px}.muted{color:#5c6570}</style></head>
<body><header><a href="/">Frontier</a></header>
<div class="card gone" data-testid="share-gone" data-state="${state}"><h1>${escapeHtml(title)}</h1><p>${escapeHtml(text)}</p>
<p class="muted">Ask whoever sent it for a new link.</p></div></body></html>`;
  return new Response(html, { status, headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" } });
}

const utc = (ms: number) => new Date(ms).toISOString().replace("T", " ").slice(0, 16) + " UTC";

// GET /s/:token — a share link: opens its view read-only, or answers 410 once revoked or expired
export async function GET(_req: Request, ctx: { params: Promise<{ token: string }> }) {
  const { token } = await ctx.params;
  const found = lookupShareLink(token);
  switch (found.state) {
    case "ok":
      // A relative Location keeps the host the visitor used, whatever proxy sits in front.
      return new Response(null, { status: 307, headers: { location: `/shared/${token}`, "cache-control": "no-store" } });
    case "revoked":
      return page(410, "revoked", "410 · This shared view is gone", `Its author revoked this link on ${utc(found.at)}.`);
    case "expired":
      return page(410, "expired", "410 · This shared view is gone", `This link expired on ${utc(found.at)}.`);
    case "missing":
      return page(404, "missing", "404 · No such shared view", "No shared view has this link. Check that it was copied whole.");
  }
}
