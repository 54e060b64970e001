/**
 * GGUF export in its own process, so the server never bundles the ONNX reader and a long export
 * (a 1B model takes minutes) does not hold the server's event loop:
 *
 *   tsx scripts/export-gguf.ts <model.onnx> <out.gguf> <f32|f16|q8_0|q4_0> [name]
 *   tsx scripts/export-gguf.ts --plan <model.onnx>     (which types are exact, and why not)
 *
 * Prints one JSON line. Exit 0 on success, 2 when the export is refused (the reason in "error"),
 * 1 on any other failure.
 */
import { exportGguf, GGUF_TYPES, GgufExportError, planGguf, type GgufType } from "../workers/export/gguf";

function main(): number {
  const args = process.argv.slice(2);
  if (args[0] === "--plan") {
    const types = GGUF_TYPES.map((type) => {
      try {
        planGguf(args[1], type);
        return { type, exact: true, reason: null };
      } catch (e) {
        if (!(e instanceof GgufExportError)) throw e;
        return { type, exact: false, reason: e.message };
      }
    });
    console.log(JSON.stringify({ types }));
    return 0;
  }
  const [model, out, type, name] = args;
  if (!model || !out || !type) {
    console.error("usage: tsx scripts/export-gguf.ts <model.onnx> <out.gguf> <f32|f16|q8_0|q4_0> [name]");
    return 1;
  }
  try {
    const r = exportGguf(model, out, type as GgufType, name ? { name } : {});
    console.log(JSON.stringify({ bytes: r.bytes, tensors: r.tensors, notes: r.notes }));
    return 0;
  } catch (e) {
    if (!(e instanceof GgufExportError)) throw e;
    console.log(JSON.stringify({ error: e.message }));
    return 2;
  }
}

try {
  process.exitCode = main();
} catch (e) {
  console.error(e);
  process.exitCode = 1;
}
