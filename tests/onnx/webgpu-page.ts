import { existsSync, readFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";

/**
 * Headless Chromium with SwiftShader's WebGPU adapter (the CPU machines have no GPU), serving
 * onnxruntime-web's WebGPU build and the given models from a local origin (navigator.gpu exists
 * only in a secure context such as http://127.0.0.1).
 */
export const CHROMIUM = "/usr/bin/chromium";
export const HAS_CHROMIUM = existsSync(CHROMIUM);

export interface WebgpuHarness {
  origin: string;
  browser: Browser;
  close(): Promise<void>;
}

export async function startWebgpuHarness(models: Record<string, Uint8Array>): Promise<WebgpuHarness> {
  const dist = path.resolve("node_modules/onnxruntime-web/dist");
  const server = http.createServer((req, res) => {
    const name = path.basename(req.url ?? "/");
    if (req.url === "/") return void res.setHeader("content-type", "text/html").end("<!doctype html><title>webgpu</title>");
    if (models[name]) return void res.end(Buffer.from(models[name]));
    const file = path.join(dist, name);
    if (!/^ort[\w.-]*\.(mjs|wasm)$/.test(name) || !existsSync(file)) return void res.writeHead(404).end();
    res.setHeader("content-type", name.endsWith(".wasm") ? "application/wasm" : "text/javascript");
    res.end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless=new",
      "--no-sandbox",
      "--enable-unsafe-webgpu",
      "--use-webgpu-adapter=swiftshader",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
  return {
    origin,
    browser,
    async close() {
      await browser.close();
      server.close();
    },
  };
}

/**
 * Collects what onnxruntime-web's verbose log says about node placement on a page: every console
 * line, and the nodes it lists under CPUExecutionProvider.
 */
export function watchPlacement(page: Page): { log: string[]; cpuNodes: string[] } {
  const log: string[] = [];
  const cpuNodes: string[] = [];
  let onCpu = false;
  page.on("console", (m) => {
    const text = m.text();
    log.push(text);
    if (text.includes("placed on [")) onCpu = text.includes("[CPUExecutionProvider]");
    else if (onCpu && text.includes("VerifyEachNodeIsAssignedToAnEp]   ")) cpuNodes.push(text.split("]   ")[1]);
  });
  return { log, cpuNodes };
}
