import { z } from "zod";

/** Dashboard pages a share link can reopen. */
export const SHARE_PAGES = ["explorer", "runs", "compare", "experiment"] as const;
export type SharePage = (typeof SHARE_PAGES)[number];

const queryValue = z.union([z.string().max(2000), z.array(z.string().max(2000)).max(50)]);

/**
 * A dashboard view: which page plus its URL query (filters, axes, sort, selection). It is stored in
 * share_links, so a link stays short however large the view is.
 */
export const ViewState = z.strictObject({
  page: z.enum(SHARE_PAGES),
  /** Path parameter of pages that have one (the experiment id). */
  id: z
    .string()
    .regex(/^[0-9]{1,12}$/)
    .optional(),
  query: z
    .record(z.string().regex(/^[A-Za-z][A-Za-z0-9_.<>=!-]{0,80}$/, "query keys are letters, digits and _.<>=!-"), queryValue)
    .refine((q) => Object.keys(q).length <= 60, "at most 60 query keys"),
});
export type ViewState = z.infer<typeof ViewState>;

export const CreateShareRequest = z.strictObject({
  view: ViewState,
  expiresInDays: z.number().int().min(1).max(3650).optional(),
});
export type CreateShareRequest = z.infer<typeof CreateShareRequest>;

export const CreateShareResponse = z.object({ token: z.string(), url: z.string() });
export type CreateShareResponse = z.infer<typeof CreateShareResponse>;

export const ShareLinkResponse = z.object({
  token: z.string(),
  view: ViewState,
  createdAt: z.number(),
  expiresAt: z.number().nullable(),
});
export type ShareLinkResponse = z.infer<typeof ShareLinkResponse>;

/** base64url of 24 random bytes = 192 bits; the pattern also rejects junk before touching the db. */
export const SHARE_TOKEN_PATTERN = /^[A-Za-z0-9_-]{22,64}$/;
