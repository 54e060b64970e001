import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { METHODS } from "@/lib/methods";
import { GET as getMethods } from "@/app/api/v1/methods/route";
import { GET as getModels, POST as postModel } from "@/app/api/v1/models/route";
import { GET as getDatasets, POST as postDataset } from "@/app/api/v1/datasets/route";
import { call, cleanup, count, fields, freshDb, writeModelDir } from "./helpers";

let dir: string;
beforeAll(() => {
  dir = freshDb();
});
afterAll(() => cleanup(dir));

describe("GET /api/v1/methods", () => {
  it("lists every registry entry with params as JSON Schema and defaults", async () => {
    const r = await call(getMethods, "GET", "/api/v1/methods");
    expect(r.status).toBe(200);
    expect(r.json.methods.map((m: { id: string }) => m.id)).toEqual(METHODS.map((m) => m.id));
    const rtn = r.json.methods.find((m: { id: string }) => m.id === "quant.rtn");
    expect(rtn.family).toBe("quantization");
    expect(rtn.paper.arxiv).toBe("2212.09720");
    expect(rtn.params.type).toBe("object");
    expect(rtn.params.additionalProperties).toBe(false);
    expect(rtn.params.properties.bits.anyOf.map((b: { const: number }) => b.const)).toEqual([2, 3, 4, 8]);
    expect(rtn.params.required ?? []).not.toContain("bits"); // input side: defaults make it optional
    expect(rtn.defaults).toMatchObject({ bits: 4, group_size: 32, symmetric: false });
    const base = r.json.methods.find((m: { id: string }) => m.id === "baseline");
    expect(base.implemented).toBe(true);
    expect(base.defaults).toEqual({});
  });
});

describe("models", () => {
  it("registers a model directory with its sha256 and size", async () => {
    const d = writeModelDir(dir, "m1");
    fs.writeFileSync(path.join(d, "card.json"), JSON.stringify({ params: 1234 }));
    const r = await call(postModel, "POST", "/api/v1/models", { body: { id: "m1", path: d } });
    expect(r.status).toBe(201);
    const bytes = fs.readFileSync(path.join(d, "model.onnx"));
    expect(r.json).toMatchObject({ id: "m1", name: "m1", kind: "decoder-lm", source: "path", params: 1234, bytes: bytes.length });
    expect(r.json.sha256).toBe(crypto.createHash("sha256").update(bytes).digest("hex"));
    expect(r.json.files).toMatchObject({ dir: "m1", model: "model.onnx", tokenizer: "tokenizer.json", card: "card.json" });
    const list = await call(getModels, "GET", "/api/v1/models");
    expect(list.json.models.map((m: { id: string }) => m.id)).toEqual(["m1"]);
  });

  it("answers 409 on a duplicate id and writes nothing", async () => {
    const r = await call(postModel, "POST", "/api/v1/models", { body: { id: "m1", path: writeModelDir(dir, "m1b") } });
    expect(r.status).toBe(409);
    expect(count("models")).toBe(1);
  });

  it.each([
    ["a missing path", () => path.join(dir, "nope"), /^path is not a readable model directory under the configured roots$/],
    ["a file instead of a directory", () => path.join(writeModelDir(dir, "f1"), "model.onnx"), /^path is not a readable model directory/],
    [
      "a directory without model.onnx",
      () => {
        const d = writeModelDir(dir, "f2");
        fs.rmSync(path.join(d, "model.onnx"));
        return d;
      },
      /^path is not a readable model directory/,
    ],
    [
      "a directory without tokenizer.json",
      () => {
        const d = writeModelDir(dir, "f3");
        fs.rmSync(path.join(d, "tokenizer.json"));
        return d;
      },
      /^path is not a readable model directory/,
    ],
    ["a model.onnx that is not ONNX", () => writeModelDir(dir, "f4", { onnx: Buffer.from("hello") }), /not an ONNX model/],
    ["a tokenizer.json that is not JSON", () => writeModelDir(dir, "f5", { tokenizer: "{" }), /not valid JSON/],
  ])("refuses %s with a 400 naming path", async (_what, make, message) => {
    const r = await call(postModel, "POST", "/api/v1/models", { body: { id: "bad", path: make() } });
    expect(r.status).toBe(400);
    expect(fields(r.json)).toEqual(["path"]);
    expect(r.json.details[0].message).toMatch(message);
    expect(count("models")).toBe(1);
  });

  it("names wrong fields, unknown fields and malformed JSON", async () => {
    let r = await call(postModel, "POST", "/api/v1/models", { body: { id: "has space", path: 3, extra: 1 } });
    expect(r.status).toBe(400);
    expect(fields(r.json).sort()).toEqual(["(root)", "id", "path"]);
    expect(r.json.details.find((d: { field: string }) => d.field === "(root)").message).toMatch(/extra/);
    r = await call(postModel, "POST", "/api/v1/models", { raw: "{not json" });
    expect(r.status).toBe(400);
    expect(fields(r.json)).toEqual(["(body)"]);
    expect(count("models")).toBe(1);
  });
});

describe("datasets", () => {
  const write = (name: string, lines: string[]) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, lines.join("\n") + "\n");
    return f;
  };

  it("registers a JSONL file per task with sha256 and size", async () => {
    const f = write("mc.jsonl", [
      JSON.stringify({ prompt: "2+2=", choices: ["3", "4"], label: 1, id: "a" }),
      JSON.stringify({ prompt: "1+1=", choices: ["2", "5", "7"], label: 0, meta: { src: "x" } }),
    ]);
    const r = await call(postDataset, "POST", "/api/v1/datasets", { body: { id: "mc", task: "multiple-choice", path: f, split: "test" } });
    expect(r.status).toBe(201);
    const bytes = fs.readFileSync(f);
    expect(r.json).toMatchObject({ id: "mc", task: "multiple-choice", file: "mc.jsonl", size: bytes.length, split: "test" });
    expect(r.json.sha256).toBe(crypto.createHash("sha256").update(bytes).digest("hex"));
    const p = write("ppl.jsonl", [JSON.stringify({ text: "hello world" })]);
    expect((await call(postDataset, "POST", "/api/v1/datasets", { body: { id: "ppl", task: "perplexity", path: p } })).status).toBe(201);
    const list = await call(getDatasets, "GET", "/api/v1/datasets");
    expect(list.json.datasets.map((d: { id: string }) => d.id)).toEqual(["mc", "ppl"]);
  });

  it.each([
    ["a line of another task", "exact-match", [JSON.stringify({ text: "x" })], /line 1 is not a exact-match example/],
    ["a label out of range", "multiple-choice", [JSON.stringify({ prompt: "p", choices: ["a", "b"], label: 2 })], /line 1 .*label/],
    ["invalid JSON on line 3", "perplexity", [JSON.stringify({ text: "a" }), JSON.stringify({ text: "b" }), "{oops"], /line 3 is not valid JSON/],
    ["an empty file", "perplexity", [""], /no examples/],
  ])("refuses %s with a 400 naming path", async (_what, task, lines, message) => {
    const f = write(`bad-${Math.random().toString(36).slice(2)}.jsonl`, lines as string[]);
    const r = await call(postDataset, "POST", "/api/v1/datasets", { body: { id: "bad", task, path: f } });
    expect(r.status).toBe(400);
    expect(fields(r.json)).toEqual(["path"]);
    expect(r.json.details[0].message).toMatch(message);
    expect(count("datasets")).toBe(2);
  });

  it("refuses a directory, a missing file, an unknown task and a duplicate id", async () => {
    let r = await call(postDataset, "POST", "/api/v1/datasets", { body: { id: "d", task: "perplexity", path: dir } });
    expect(r.status).toBe(400);
    expect(r.json.details[0].message).toBe("path is not a readable dataset file under the configured roots");
    r = await call(postDataset, "POST", "/api/v1/datasets", { body: { id: "d", task: "perplexity", path: path.join(dir, "missing.jsonl") } });
    expect(r.status).toBe(400);
    r = await call(postDataset, "POST", "/api/v1/datasets", { body: { id: "d", task: "summarization", path: "x" } });
    expect(r.status).toBe(400);
    expect(fields(r.json)).toEqual(["task"]);
    r = await call(postDataset, "POST", "/api/v1/datasets", { body: { id: "mc", task: "perplexity", path: path.join(dir, "ppl.jsonl") } });
    expect(r.status).toBe(409);
    expect(count("datasets")).toBe(2);
  });
});
