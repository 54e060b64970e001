import { describe, expect, it } from "vitest";
import { hardwareKey, isaTier } from "../../lib/hardware";
import { parseCpuinfoFeatures } from "../../workers/runtimes/isa";
import { hardwareFingerprint } from "../../workers/runtimes";
import type { HardwareFingerprint } from "../../lib/schemas/workers";

const base: HardwareFingerprint = {
  runtime: "cpu",
  ortVersion: "onnxruntime-node@1.30.0",
  cpuModel: "Intel(R) Xeon(R) Platinum 8480+ CPU @ 2.00GHz",
  cpuCores: 16,
  memoryBytes: 128e9,
  platform: "linux-x64",
  nodeVersion: "v20.20.0",
};

describe("hardwareKey", () => {
  it("labels CPU runtimes by the tidied CPU model and core count", () => {
    expect(hardwareKey(base)).toBe("cpu · Intel Xeon Platinum 8480+ ×16");
    expect(hardwareKey({ ...base, runtime: "wasm" })).toBe("wasm · Intel Xeon Platinum 8480+ ×16");
    expect(hardwareKey({ ...base, cpuModel: "AMD EPYC 7B13 64-Core Processor", cpuCores: 2 })).toBe("cpu · AMD EPYC 7B13 ×2");
  });

  it("labels GPU runtimes by the adapter, so one GPU groups together whatever host it sits in", () => {
    const adapter = { vendor: "nvidia", architecture: "hopper", description: "NVIDIA H200" };
    expect(hardwareKey({ ...base, runtime: "webgpu", adapter })).toBe("webgpu · NVIDIA H200");
    expect(hardwareKey({ ...base, runtime: "webgpu", cpuCores: 64, adapter })).toBe("webgpu · NVIDIA H200");
    expect(hardwareKey({ ...base, runtime: "browser", adapter: { ...adapter, description: "" } })).toBe("browser · nvidia hopper");
  });

  it("ignores memory, OS and versions, which do not change what a latency is comparable to", () => {
    expect(hardwareKey({ ...base, memoryBytes: 1, nodeVersion: "v22", ortVersion: "x" })).toBe(hardwareKey(base));
  });
});

describe("CPU instruction-set features", () => {
  it("put the integer-kernel tier in the key, so an AVX2 box and an AVX-512 VNNI box with one brand string do not group", () => {
    const epyc = { ...base, cpuModel: "AMD EPYC", cpuCores: 2 };
    expect(hardwareKey({ ...epyc, isa: ["avx", "fma", "avx2"] })).toBe("cpu · AMD EPYC ×2 · AVX2");
    expect(hardwareKey({ ...epyc, isa: ["avx2", "avx512f", "avx512bw", "avx512-vnni"] })).toBe("cpu · AMD EPYC ×2 · AVX-512 VNNI");
    expect(hardwareKey({ ...epyc, isa: ["avx2", "avx512f", "avx512-vnni", "amx-tile", "amx-int8"] })).toBe("cpu · AMD EPYC ×2 · AMX");
    expect(hardwareKey({ ...epyc, isa: ["neon", "dotprod"] })).toBe("cpu · AMD EPYC ×2 · NEON dotprod");
    expect(isaTier(undefined)).toBeNull();
  });

  it("are read from /proc/cpuinfo flags (x86) and Features (Arm)", () => {
    const x86 = "processor\t: 0\nflags\t\t: fpu sse4_2 avx fma avx2 avx512f avx512bw avx512vl avx512_vnni amx_tile amx_int8\n";
    expect(parseCpuinfoFeatures(x86)).toEqual(["sse4.2", "avx", "fma", "avx2", "avx512f", "avx512bw", "avx512vl", "avx512-vnni", "amx-tile", "amx-int8"]);
    expect(parseCpuinfoFeatures("processor\t: 0\nFeatures\t: fp asimd asimddp i8mm sve\n")).toEqual(["neon", "dotprod", "i8mm", "sve"]);
    expect(parseCpuinfoFeatures("")).toEqual([]);
  });

  it("are in this machine's fingerprint", async () => {
    const fp = await hardwareFingerprint("cpu");
    expect(Array.isArray(fp.isa)).toBe(true);
    if (process.arch === "x64" && process.platform === "linux") expect(fp.isa).toContain("sse4.2");
  });
});
