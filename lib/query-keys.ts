/**
 * The one react-query key factory. Every query's key comes from here, and mutations invalidate by
 * these keys (a prefix invalidates everything below it, e.g. `qk.runs.all`).
 */
export type QueryParams = Record<string, string | string[]>;

export const qk = {
  methods: () => ["methods"] as const,
  models: () => ["models"] as const,
  datasets: () => ["datasets"] as const,
  workers: () => ["workers"] as const,
  experiments: {
    all: ["experiments"] as const,
    list: () => ["experiments", "list"] as const,
    detail: (id: number) => ["experiments", "detail", id] as const,
  },
  runs: {
    all: ["runs"] as const,
    list: (params: QueryParams) => ["runs", "list", params] as const,
    groups: (params: QueryParams) => ["runs", "groups", params] as const,
    detail: (id: number) => ["runs", "detail", id] as const,
    series: (id: number, key: string) => ["runs", "series", id, key] as const,
  },
  pareto: {
    all: ["pareto"] as const,
    charts: (params: QueryParams, xs: string[]) => ["pareto", "charts", xs, params] as const,
    contexts: (params: QueryParams) => ["pareto", "contexts", params] as const,
  },
  share: (token: string) => ["share", token] as const,
  views: () => ["views"] as const,
};
