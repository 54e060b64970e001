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
  return `${fp.runtime} · ${cpu}`;
}
