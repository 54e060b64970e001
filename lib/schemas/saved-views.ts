import { z } from "zod";
import { ViewState } from "./share";

/** A saved view's name: what the Saved views menu lists, unique. */
export const SavedViewName = z.string().trim().min(1, "name must not be empty").max(80, "name is at most 80 characters");

/** POST /api/v1/views — name the current view of the explorer, runs or compare page. */
export const CreateSavedViewBody = z.strictObject({ name: SavedViewName, view: ViewState });
export type CreateSavedViewBody = z.infer<typeof CreateSavedViewBody>;

export const SavedView = z.object({ id: z.number().int(), name: z.string(), view: ViewState, createdAt: z.number() });
export type SavedView = z.infer<typeof SavedView>;

export const SavedViewsResponse = z.object({ views: z.array(SavedView) });
export type SavedViewsResponse = z.infer<typeof SavedViewsResponse>;
