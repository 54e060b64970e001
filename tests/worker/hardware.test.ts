import { describe, expect, it } from "vitest";
import { hardwareKey } from "../../lib/hardware";
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
