// The committed adapters: rebuilt byte for byte by `npm run models` (the crypto-sentiment model
// here; the two spam adapters, minutes on two cores, with OPENLORA_TEST_PROFILE=deep), their
// PEFT files and manifests, the co-training example's contributors, and the accuracy aims.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { USE_LITE_HASH } from "../base/useLite/useLiteBase";
import { loadPeftAdapter } from "../peft/adapterDirectory";
import { ADAPTER_MODEL_FILE } from "../peft/adapterModel";
import { ADAPTER_CONFIG_FILE } from "../peft/config";
import { MANIFEST_FILE } from "../peft/manifest";
import { cotrainExample, MODELS_DIR, modelSpecs, trainModel } from "./build-models";

const DEEP = process.env.OPENLORA_TEST_PROFILE === "deep";
const FILES = [ADAPTER_MODEL_FILE, ADAPTER_CONFIG_FILE, MANIFEST_FILE];

function maxAbsDifference(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] as number) - (b[i] as number)));
  return max;
}

/**
 * Byte for byte where onnxruntime's float32 kernels are the ones the files were built with. The
 * base's activations come from those kernels, and another CPU instruction set may round their
 * last bits differently: then the same training must still give the same adapter up to that
 * noise, and the same held-out score.
 */
function expectSameAdapter(rebuilt: string, committed: string): void {
  const same = FILES.every((file) =>
    readFileSync(join(rebuilt, file)).equals(readFileSync(join(committed, file))),
  );
  if (same) return;
  console.warn(`${committed}: rebuilt bytes differ (another CPU's float32 kernels?); comparing values`);
  const a = loadPeftAdapter(rebuilt);
  const b = loadPeftAdapter(committed);
  expect(a.adapter.config).toEqual(b.adapter.config);
  for (const [module, factors] of b.adapter.factors) {
    const other = a.adapter.factors.get(module);
    if (!other) throw new Error(`rebuilt adapter lacks ${module}`);
    expect(maxAbsDifference(other.a, factors.a), module).toBeLessThan(1e-2);
    expect(maxAbsDifference(other.b, factors.b), module).toBeLessThan(1e-2);
  }
  const heldOut = (m: typeof a) => m.manifest.metrics.heldOut?.accuracy ?? Number.NaN;
  expect(Math.abs(heldOut(a) - heldOut(b))).toBeLessThanOrEqual(0.01);
}

describe("committed model artifacts", () => {
  it.each(modelSpecs().map((spec) => [spec.name, spec] as const))(
    "%s is reproduced byte for byte by the build script",
    async (name, spec) => {
      if (name !== "crypto-sentiment" && !DEEP) return;
      const out = mkdtempSync(join(tmpdir(), "openlora-models-"));
      const rebuilt = await trainModel(spec, out, true);
      expect(rebuilt.name).toBe(name);
      expectSameAdapter(join(out, name), join(MODELS_DIR, name));
    },
    600_000,
  );

  it.runIf(DEEP)(
    "the co-training example is reproduced byte for byte",
    async () => {
      const out = mkdtempSync(join(tmpdir(), "openlora-models-"));
      await cotrainExample(out);
      expectSameAdapter(join(out, "spam-cotrained"), join(MODELS_DIR, "spam-cotrained"));
    },
    600_000,
  );

  it.each(["crypto-sentiment", "spam-filter", "spam-cotrained"])(
    "%s loads as a PEFT adapter on the pinned USE-lite base, with its head",
    (name) => {
      const loaded = loadPeftAdapter(join(MODELS_DIR, name));
      expect(loaded.manifest.baseModel).toEqual({ id: "use-lite-en", hash: USE_LITE_HASH });
      expect(loaded.adapter.head?.labels).toEqual(loaded.manifest.labels);
      expect(loaded.adapter.config.target_modules.length).toBeGreaterThan(0);
    },
  );

  it("the co-training example lists its contributors with measured contributions and units", () => {
    const { manifest } = loadPeftAdapter(join(MODELS_DIR, "spam-cotrained"));
    expect(manifest.training?.mode).toBe("federated");
    expect(manifest.contributors.map((c) => [c.id, c.rows])).toEqual([
      ["alice", 400],
      ["bob", 200],
      ["carol", 100],
    ]);
    expect(manifest.contributors.reduce((sum, c) => sum + c.units, 0)).toBe(manifest.training?.totalUnits);
    for (const c of manifest.contributors) expect(c.contribution).toBeGreaterThan(0);
  });
});
