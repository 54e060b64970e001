import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "sqlite",
  schema: "./db/schema/index.ts",
  out: "./db/migrations",
  strict: true,
  verbose: true,
  dbCredentials: { url: process.env.FRONTIER_DB ?? "./data/frontier.db" },
});
