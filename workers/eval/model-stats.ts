/**
 * Size of a model on disk and of its weights, read by walking the ONNX protobuf through a file
 * descriptor in small windows: tensor payloads are skipped, never loaded, so a multi-gigabyte model
 * costs a few reads and does not inflate the peak RSS the benchmark reports afterwards.
 */
import fs from "node:fs";
import path from "node:path";

export interface ModelStats {
  /** .onnx file plus every external-data file it references (each counted once). */
  modelBytes: number;
  /** Sum over initializers of element count x element size as stored (4-bit types: half a byte). */
  weightsBytes: number;
  initializers: number;
  /** Names of the graph inputs (initializers excluded when listed as inputs too). */
  inputs: string[];
  /** Name and stored bytes of every initializer, in graph order. */
  tensors: { name: string; bytes: number }[];
  externalFiles: string[];
}

/** Bytes per element of TensorProto.DataType; 4-bit types pack two per byte. */
const ELEM_BYTES: Record<number, number> = {
  1: 4,
  2: 1,
  3: 1,
  4: 2,
  5: 2,
  6: 4,
  7: 8,
  9: 1,
  10: 2,
  11: 8,
  12: 4,
  13: 8,
  14: 8,
  15: 16,
  16: 2,
  17: 1,
  18: 1,
  19: 1,
  20: 1,
  21: 0.5,
  22: 0.5,
  23: 0.5,
};

class Window {
  private buf = Buffer.alloc(0);
  private start = 0;
  constructor(
    private fd: number,
    readonly size: number,
  ) {}
  byte(pos: number): number {
    if (pos < this.start || pos >= this.start + this.buf.length) {
      const len = Math.min(1 << 16, this.size - pos);
      if (len <= 0) throw new Error("truncated ONNX file");
      this.buf = Buffer.alloc(len);
      fs.readSync(this.fd, this.buf, 0, len, pos);
      this.start = pos;
    }
    return this.buf[pos - this.start];
  }
  bytes(pos: number, len: number): Buffer {
    const out = Buffer.alloc(len);
    fs.readSync(this.fd, out, 0, len, pos);
    return out;
  }
}

function varint(w: Window, pos: number): [number, number] {
  let value = 0;
  let mul = 1;
  for (;;) {
    const b = w.byte(pos++);
    value += (b & 0x7f) * mul;
    if (b < 0x80) return [value, pos];
    mul *= 128;
  }
}

type Visit = (field: number, wire: number, start: number, end: number, value: number) => void;

/** Calls `visit` for every field of the message in [start, end); length-delimited ones by range. */
function walk(w: Window, start: number, end: number, visit: Visit): void {
  let pos = start;
  while (pos < end) {
    const [key, p1] = varint(w, pos);
    const field = Math.floor(key / 8);
    const wire = key % 8;
    pos = p1;
    if (wire === 0) {
      const [v, p2] = varint(w, pos);
      visit(field, wire, pos, p2, v);
      pos = p2;
    } else if (wire === 2) {
      const [len, p2] = varint(w, pos);
      visit(field, wire, p2, p2 + len, len);
      pos = p2 + len;
    } else if (wire === 1) {
      pos += 8;
    } else if (wire === 5) {
      pos += 4;
    } else {
      throw new Error(`unsupported protobuf wire type ${wire} at byte ${pos}`);
    }
  }
}

export function modelStats(modelPath: string): ModelStats {
  const fd = fs.openSync(modelPath, "r");
  try {
    const size = fs.fstatSync(fd).size;
    const w = new Window(fd, size);
    let weightsBytes = 0;
    let initializers = 0;
    const tensors: { name: string; bytes: number }[] = [];
    const inputNames: string[] = [];
    const external = new Set<string>();
    const tensor = (start: number, end: number) => {
      const dims: number[] = [];
      let type = 0;
      let name = "";
      walk(w, start, end, (f, wire, s, e, v) => {
        if (f === 1 && wire === 0) dims.push(v);
        else if (f === 8 && wire === 2) name = w.bytes(s, e - s).toString("utf8");
        else if (f === 1 && wire === 2) {
          // packed repeated int64
          for (let p = s; p < e; ) {
            const [d, np] = varint(w, p);
            dims.push(d);
            p = np;
          }
        } else if (f === 2 && wire === 0) type = v;
        else if (f === 13 && wire === 2) {
          let k = "";
          let val = "";
          walk(w, s, e, (ef, _w, es, ee) => {
            if (ef === 1) k = w.bytes(es, ee - es).toString("utf8");
            if (ef === 2) val = w.bytes(es, ee - es).toString("utf8");
          });
          if (k === "location") external.add(val);
        }
      });
      const per = ELEM_BYTES[type];
      if (per === undefined) throw new Error(`${path.basename(modelPath)}: initializer of unsupported data type ${type}`);
      const n = dims.reduce((a, b) => a * b, 1);
      const bytes = Math.ceil(n * per);
      weightsBytes += bytes;
      initializers++;
      tensors.push({ name, bytes });
    };
    walk(w, 0, size, (f, wire, s, e) => {
      if (f !== 7 || wire !== 2) return;
      walk(w, s, e, (gf, gw, gs, ge) => {
        if (gf === 5 && gw === 2) tensor(gs, ge);
        else if (gf === 11 && gw === 2) {
          walk(w, gs, ge, (vf, vw, vs, ve) => {
            if (vf === 1 && vw === 2) inputNames.push(w.bytes(vs, ve - vs).toString("utf8"));
          });
        }
      });
    });
    const dir = path.dirname(modelPath);
    let modelBytes = size;
    const externalFiles = [...external].map((loc) => path.resolve(dir, loc));
    for (const f of externalFiles) {
      if (!fs.existsSync(f)) throw new Error(`${path.basename(modelPath)} references missing external data ${path.basename(f)}`);
      modelBytes += fs.statSync(f).size;
    }
    const initNames = new Set(tensors.map((t) => t.name));
    return { modelBytes, weightsBytes, initializers, inputs: inputNames.filter((n) => !initNames.has(n)), tensors, externalFiles };
  } finally {
    fs.closeSync(fd);
  }
}
