import { z } from "zod";
import { FAMILIES, type MethodDef } from "@/lib/methods/types";

/** One registry entry as the API serves it: params as JSON Schema (input side, so defaults are optional). */
export const MethodInfo = z.object({
  id: z.string(),
  family: z.enum(FAMILIES),
  label: z.string(),
  summary: z.string(),
  paper: z.object({ title: z.string(), arxiv: z.string().nullable(), url: z.string().optional() }).nullable(),
  implemented: z.boolean(),
  params: z.record(z.string(), z.unknown()),
  defaults: z.record(z.string(), z.unknown()),
});
export type MethodInfo = z.infer<typeof MethodInfo>;

export const MethodsResponse = z.object({ methods: z.array(MethodInfo) });
export type MethodsResponse = z.infer<typeof MethodsResponse>;

/** The API view of a registry entry (shared by GET /methods and the OpenAPI document). */
export function describeMethod(m: MethodDef): MethodInfo {
  return {
    id: m.id,
    family: m.family,
    label: m.label,
    summary: m.summary,
    paper: m.paper,
    implemented: m.implemented,
    params: z.toJSONSchema(m.params, { io: "input", unrepresentable: "any" }) as Record<string, unknown>,
    defaults: m.params.parse({}) as Record<string, unknown>,
  };
}
