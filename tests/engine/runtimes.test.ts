import { describe, expect, it } from "vitest";
import { hardwareFingerprint, probeRuntimes } from "@/workers/runtimes";

describe("runtimes", () => {
  it("probeRuntimes starts cpu and wasm here and explains a missing WebGPU adapter in one line", async () => {
    const probe = await probeRuntimes();
    expect(probe.available).toContain("cpu");
    expect(probe.available).toContain("wasm");
    if (!probe.available.includes("webgpu")) {
      const webgpu = probe.unavailable.find((u) => u.runtime === "webgpu");
      expect(webgpu?.reason).toMatch(/^webgpu: /);
      expect(probe.summary.split("\n")).toHaveLength(1);
      expect(probe.summary).toContain("offering cpu, wasm");
    }
  });

  it("probeRuntimes refuses the browser runtime in Node with a reason", async () => {
    const probe = await probeRuntimes(["browser"]);
    expect(probe.available).toEqual([]);
    expect(probe.unavailable[0].reason).toMatch(/browser/);
  });

  it("hardwareFingerprint records the ORT package version and this machine", async () => {
    const fp = await hardwareFingerprint("cpu");
    expect(fp.runtime).toBe("cpu");
    expect(fp.ortVersion).toMatch(/^onnxruntime-node@1\.30\./);
    expect(fp.cpuCores).toBeGreaterThan(0);
    expect(fp.memoryBytes).toBeGreaterThan(0);
    expect(fp.nodeVersion).toBe(process.version);
    const wasm = await hardwareFingerprint("wasm");
    expect(wasm.ortVersion).toMatch(/^onnxruntime-web@1\.30\./);
  });
});
