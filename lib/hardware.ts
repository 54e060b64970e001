import type { HardwareFingerprint } from "./schemas/workers";

/** CPU brand strings carry noise that splits identical machines into separate groups. */
function tidyCpuModel(model: string): string {
  return model
    .replace(/\((R|TM|tm|r)\)/g, "")
    .replace(/\bCPU\b/g, "")
    .replace(/\b\d+-Core Processor\b/gi, "")
    .replace(/\bProcessor\b/g, "")
    .replace(/@\s*[\d.]+\s*GHz/gi, "")
    .replace(/\s+/g, " ")
    .trim();
}

/**
 * The short label runs are grouped by (and baselines matched on): runtime plus the device that does
 * the arithmetic, e.g. "cpu · AMD EPYC 7B13 ×2" or "webgpu · NVIDIA H200". Memory size, OS and
 * versions stay in the full fingerprint: they do not change what a latency figure is comparable to.
 */
export function hardwareKey(fp: HardwareFingerprint): string {
  const cpu = `${tidyCpuModel(fp.cpuModel) || "unknown CPU"} ×${fp.cpuCores}`;
  if ((fp.runtime === "webgpu" || fp.runtime === "browser") && fp.adapter) {
    const a = fp.adapter;
    const device = (a.description || a.device || [a.vendor, a.architecture].filter(Boolean).join(" ")).trim();
    if (device) return `${fp.runtime} · ${device}`;
  }
  const tier = isaTier(fp.isa);
  return `${fp.runtime} · ${cpu}${tier ? ` · ${tier}` : ""}`;
}

/**
 * The integer-kernel tier of a CPU, from its recorded ISA features: onnxruntime's MLAS picks
 * different int8 GEMMs for AVX2, AVX-VNNI, AVX-512, AVX-512 VNNI and AMX (and NEON / dot product on
 * Arm), so one brand string ("AMD EPYC") can stand for machines whose figures are not comparable.
 * null for fingerprints recorded before features were (their key is unchanged).
 */
export function isaTier(isa: readonly string[] | undefined): string | null {
  if (!isa || isa.length === 0) return null;
  const has = (f: string) => isa.includes(f);
  if (has("amx-int8")) return "AMX";
  if (has("avx512f")) return has("avx512-vnni") ? "AVX-512 VNNI" : "AVX-512";
  if (has("avx2")) return has("avx-vnni") ? "AVX2 VNNI" : "AVX2";
  if (has("neon")) return has("i8mm") ? "NEON i8mm" : has("dotprod") ? "NEON dotprod" : "NEON";
  return isa.includes("avx") ? "AVX" : "SSE";
}
