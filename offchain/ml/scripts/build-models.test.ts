import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ADAPTER_FILE, loadAdapter, MANIFEST_FILE } from "../adapter/adapterFile";
import { landeBaseModel } from "../base/baseModel";
import { contentHash } from "../hash";
import { buildAdapterGraph } from "../onnx/baseGraph";
import { createSession, runAdapter } from "../onnx/session";
import { readDataset } from "../training/dataset";
import { argmax } from "../training/loraModel";
import { prepareData } from "../training/trainRun";
import { MODELS_DIR, modelSpecs, trainModel } from "./build-models";

const base = landeBaseModel();

describe("committed model artifacts", () => {
  it("the committed base ONNX file is the base model (same bytes, same hash)", () => {
    const bytes = readFileSync(join(MODELS_DIR, "base", "lande-t50.onnx"));
    expect(contentHash(bytes)).toBe(base.hash);
    const info = JSON.parse(readFileSync(join(MODELS_DIR, "base", "base.json"), "utf8"));
    expect(info).toMatchObject({
      id: "lande-t50",
      hash: base.hash,
      inputDim: 620,
      hiddenDim: 120,
      outputDim: 50,
    });
  });

  it.each(modelSpecs().map((spec) => [spec.name, spec] as const))(
    "%s is reproduced byte for byte by the build script",
    (name, spec) => {
      const committed = join(MODELS_DIR, name);
      const { manifest } = loadAdapter(committed, base);
      const out = mkdtempSync(join(tmpdir(), "openlora-models-"));
      const rebuilt = trainModel(spec, out, true);
      expect(rebuilt.adapter.hash).toBe(manifest.adapter.hash);
      expect(readFileSync(join(out, name, ADAPTER_FILE))).toEqual(
        readFileSync(join(committed, ADAPTER_FILE)),
      );
      expect(readFileSync(join(out, name, MANIFEST_FILE), "utf8")).toBe(
        readFileSync(join(committed, MANIFEST_FILE), "utf8"),
      );
    },
  );

  it("the co-training example lists its contributors with measured contributions and units", () => {
    const { manifest } = loadAdapter(join(MODELS_DIR, "spam-cotrained"), base);
    expect(manifest.training.mode).toBe("federated");
    expect(manifest.contributors.map((c) => [c.id, c.rows])).toEqual([
      ["alice", 1200],
      ["bob", 600],
      ["carol", 300],
    ]);
    expect(manifest.contributors.reduce((sum, c) => sum + c.units, 0)).toBe(manifest.training.totalUnits);
    for (const c of manifest.contributors) expect(c.contribution).toBeGreaterThan(0);
    expect(manifest.metrics.heldOut.accuracy).toBeGreaterThan(0.85);
  });

  it("the spam filter reaches at least 0.93 held-out accuracy, confirmed through onnxruntime", async () => {
    const spec = modelSpecs().find((s) => s.name === "spam-filter");
    if (!spec) throw new Error("no spam-filter spec");
    const { adapter, manifest } = loadAdapter(join(MODELS_DIR, "spam-filter"), base);
    expect(manifest.metrics.heldOut.accuracy).toBeGreaterThanOrEqual(0.93);
    const { test, labels } = prepareData(
      spec.data.map(readDataset),
      undefined,
      manifest.training.holdout,
      manifest.seed,
    );
    expect(test).toHaveLength(manifest.metrics.heldOut.rows);
    const features = base.featurizer?.featurizeAll(test.map((row) => row.text)) ?? new Float32Array();
    const session = await createSession(buildAdapterGraph(base, true));
    const head = adapter.head;
    if (!head) throw new Error("spam filter has a task head");
    const probabilities = await runAdapter(session, features, { d: 620, k: 120 }, { ...adapter, head });
    await session.release();
    const correct = test.filter(
      (row, i) => labels[argmax(probabilities.subarray(i * 2, i * 2 + 2))] === row.label,
    ).length;
    // float32 inference may flip a borderline row relative to the float64 evaluation.
    expect(Math.abs(correct - manifest.metrics.heldOut.accuracy * test.length)).toBeLessThanOrEqual(1);
    expect(correct / test.length).toBeGreaterThanOrEqual(0.93);
  });
});
