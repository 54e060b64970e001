import { z } from "zod";

/** POST /api/v1/session: sign the dashboard in with an API token. */
export const SignInBody = z.strictObject({ token: z.string().min(1).max(200) });

export const SignInResponse = z.object({ name: z.string(), expiresAt: z.number().int(), csrf: z.string() });

export const SessionResponse = z.object({
  mode: z.enum(["local", "token"]),
  reads: z.enum(["open", "token"]),
  signedIn: z.boolean(),
  name: z.string().optional(),
  expiresAt: z.number().int().optional(),
});
export type SessionResponse = z.infer<typeof SessionResponse>;
