import onnxProto from "onnx-proto";
import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { contentHash } from "../../hash";
import { createSession } from "../../onnx/session";
import { buildUseLiteOnnx, modulesMetadata } from "./graph";
import { USE_LITE, USE_LITE_MODULE_NAMES, USE_LITE_MODULES, USE_LITE_OTHER_TENSORS } from "./modules";
import { loadUseLiteSource } from "./source";
import { denseBatch, runUseLite, USE_LITE_HASH } from "./useLiteBase";

const source = loadUseLiteSource();
const base = buildUseLiteOnnx(source);
const model = onnxProto.onnx.ModelProto.decode(base);
const initializers = new Map(model.graph?.initializer?.map((t) => [t.name as string, t]) ?? []);

/** A few token rows of different lengths, unknown id 0 included. */
const ROWS = [[11, 1510, 30, 9, 604], [30, 0, 8, 0], [], [...Array(40).keys()].map((i) => 100 + i * 7)];

describe("USE-lite converter", () => {
  it("builds the same bytes from the same package, with the pinned content hash", () => {
    const again = buildUseLiteOnnx(loadUseLiteSource(true));
    expect(Buffer.from(again).equals(Buffer.from(base))).toBe(true);
    expect(contentHash(base)).toBe(USE_LITE_HASH);
  });

  it("covers every matrix of the TF.js graph with a named module or tensor, shapes included", () => {
    const covered = new Set<string>([
      ...USE_LITE_MODULE_NAMES.flatMap((name) => Object.values(USE_LITE_MODULES[name].source)),
      ...Object.values(USE_LITE_OTHER_TENSORS),
    ]);
    const floats = [...source.tensors].filter(([, t]) => t.dtype === "float32" && t.data.length > 1);
    const missing = floats.map(([name]) => name).filter((name) => !covered.has(name));
    expect(missing).toEqual([]);
    for (const name of USE_LITE_MODULE_NAMES) {
      const { inputs, outputs, source: tf } = USE_LITE_MODULES[name];
      const kernel = source.tensors.get(tf.kernel);
      expect(kernel?.shape.slice(-2), name).toEqual([inputs, outputs]);
      expect(kernel?.shape.slice(0, -2).every((d) => d === 1)).toBe(true);
      expect(source.tensors.get(tf.bias)?.shape, name).toEqual([outputs]);
    }
  });

  it("names each linear layer's ONNX initializers after its module, with [in, out] and [out]", () => {
    expect(USE_LITE_MODULE_NAMES).toHaveLength(10);
    for (const name of USE_LITE_MODULE_NAMES) {
      const { inputs, outputs, source: tf } = USE_LITE_MODULES[name];
      const weight = initializers.get(`${name}.weight`);
      expect(weight?.dims?.map(Number), name).toEqual([inputs, outputs]);
      expect(initializers.get(`${name}.bias`)?.dims?.map(Number), name).toEqual([outputs]);
      // The bytes are the TF kernel's, unchanged (a 1x1 Conv2D kernel is [1, 1, in, out]).
      const original = source.tensors.get(tf.kernel)?.data as Float32Array;
      const raw = weight?.rawData as Uint8Array;
      expect(Buffer.from(raw).equals(Buffer.from(original.buffer)), name).toBe(true);
    }
    const metadata = new Map(model.metadataProps?.map((p) => [p.key, p.value]));
    expect(metadata.get("openlora.modules")).toBe(modulesMetadata());
    expect(JSON.parse(modulesMetadata())["encoder.layer.0.attention.qkv"]).toEqual([256, 768]);
  });

  it("leaves the embeddings unchanged with LoRA side paths whose B is 0, and moves them when B is not", async () => {
    const targets = USE_LITE_MODULE_NAMES;
    const adapted = buildUseLiteOnnx(source, { loraModules: targets });
    const [plain, side] = await Promise.all([createSession(base), createSession(adapted)]);
    const batch = denseBatch(ROWS);
    const expected = await runUseLite(plain, batch);
    const feeds = (bValue: number) => {
      const rank = 4;
      const out: Record<string, ort.Tensor> = {};
      targets.forEach((name, m) => {
        const { inputs, outputs } = USE_LITE_MODULES[name];
        const a = Float32Array.from({ length: inputs * rank }, (_, i) => Math.sin(i + m));
        const b = new Float32Array(rank * outputs).fill(bValue);
        out[`${name}.lora_a`] = new ort.Tensor("float32", a, [inputs, rank]);
        out[`${name}.lora_b`] = new ort.Tensor("float32", b, [rank, outputs]);
      });
      return out;
    };
    expect(await runUseLite(side, batch, feeds(0))).toEqual(expected);
    const moved = await runUseLite(side, batch, feeds(1e-3));
    expect(Math.max(...moved.map((v, i) => Math.abs(v - (expected[i] as number))))).toBeGreaterThan(1e-3);
  });

  it("gives a row the same embedding alone as padded in a batch, and an empty row normalize(tanh(bias))", async () => {
    const session = await createSession(base);
    const batched = await runUseLite(session, denseBatch(ROWS));
    const d = USE_LITE.outputDim;
    for (const [r, row] of ROWS.entries()) {
      const alone = await runUseLite(session, denseBatch([row]));
      const diff = Math.max(...alone.map((v, i) => Math.abs(v - (batched[r * d + i] as number))));
      expect(diff, `row ${r}`).toBeLessThan(1e-6);
    }
    const bias = source.tensors.get(USE_LITE_MODULES["pooler.dense"].source.bias)?.data as Float32Array;
    const tanh = Array.from(bias, Math.tanh);
    const norm = Math.hypot(...tanh);
    const empty = batched.subarray(2 * d, 3 * d);
    expect(Math.max(...tanh.map((v, i) => Math.abs(v / norm - (empty[i] as number))))).toBeLessThan(1e-6);
  });
});
