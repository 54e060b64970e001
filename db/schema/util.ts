import { integer } from "drizzle-orm/sqlite-core";

/** Milliseconds since the epoch; every timestamp in Frontier is stored this way. */
export const ms = (name: string) => integer(name);

export const createdAt = () =>
  ms("created_at")
    .notNull()
    .$defaultFn(() => Date.now());
