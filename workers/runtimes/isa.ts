/**
 * The CPU's instruction-set features that decide which integer and float kernels onnxruntime's MLAS
 * picks (AVX2, AVX-512, VNNI, AMX on x86; NEON, dot product, i8mm, SVE on Arm), read from
 * /proc/cpuinfo. Recorded in every run's hardware fingerprint so a figure can be traced to the
 * kernel path that produced it: the same "AMD EPYC" brand string has been seen here both with
 * AVX-512 + VNNI and with AVX2 only.
 */
import fs from "node:fs";

/** cpuinfo flag -> the name recorded (ordered roughly from baseline to newest). */
const X86_FLAGS: readonly [string, string][] = [
  ["sse4_2", "sse4.2"],
  ["avx", "avx"],
  ["fma", "fma"],
  ["avx2", "avx2"],
  ["f16c", "f16c"],
  ["avx_vnni", "avx-vnni"],
  ["avx512f", "avx512f"],
  ["avx512bw", "avx512bw"],
  ["avx512vl", "avx512vl"],
  ["avx512_vnni", "avx512-vnni"],
  ["avx512_bf16", "avx512-bf16"],
  ["avx512_fp16", "avx512-fp16"],
  ["amx_tile", "amx-tile"],
  ["amx_int8", "amx-int8"],
  ["amx_bf16", "amx-bf16"],
];

const ARM_FLAGS: readonly [string, string][] = [
  ["asimd", "neon"],
  ["asimddp", "dotprod"],
  ["i8mm", "i8mm"],
  ["bf16", "bf16"],
  ["sve", "sve"],
  ["sve2", "sve2"],
];

/** Features named in a /proc/cpuinfo text ("flags" on x86, "Features" on Arm), in a fixed order. */
export function parseCpuinfoFeatures(cpuinfo: string): string[] {
  const line = /^(?:flags|Features)\s*:\s*(.*)$/m.exec(cpuinfo);
  if (!line) return [];
  const flags = new Set(line[1].trim().split(/\s+/));
  const table = /^flags/m.test(cpuinfo) ? X86_FLAGS : ARM_FLAGS;
  return table.filter(([flag]) => flags.has(flag)).map(([, name]) => name);
}

let cached: string[] | null = null;

/** This machine's features, or [] where /proc/cpuinfo cannot be read. */
export function cpuFeatures(): string[] {
  if (cached) return cached;
  try {
    cached = parseCpuinfoFeatures(fs.readFileSync("/proc/cpuinfo", "utf8"));
  } catch {
    cached = [];
  }
  return cached;
}
