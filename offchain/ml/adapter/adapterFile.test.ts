import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type BaseModel, landeBaseModel, wideBenchmarkBase } from "../base/baseModel";
import {
  AdapterHashMismatchError,
  AdapterShapeError,
  BaseModelMismatchError,
  ManifestError,
  SafetensorsFormatError,
} from "../errors";
import { contentHash } from "../hash";
import { Rng } from "../random";
import { LORA_TARGET, type LoraAdapter } from "./adapter";
import {
  ADAPTER_FILE,
  decodeAdapter,
  encodeAdapter,
  loadAdapter,
  MANIFEST_FILE,
  saveAdapter,
} from "./adapterFile";
import type { Evaluation } from "./manifest";
import { writeSafetensors } from "./safetensors";

function randomAdapter(
  base: BaseModel,
  rank: number,
  labels: string[] | undefined,
  seed: number,
): LoraAdapter {
  const rng = new Rng(seed);
  const fill = (n: number) => Float32Array.from({ length: n }, () => rng.normal() * 0.1);
  const d = base.hidden.inputs;
  const k = base.hidden.outputs;
  const adapter: LoraAdapter = { target: LORA_TARGET, rank, scale: 2, a: fill(d * rank), b: fill(rank * k) };
  if (labels) adapter.head = { weight: fill(k * labels.length), bias: fill(labels.length), labels };
  return adapter;
}

const evaluation: Evaluation = {
  rows: 2,
  accuracy: 0.5,
  loss: 0.7,
  macroF1: 0.5,
  confusion: [
    [1, 0],
    [1, 0],
  ],
};
const body = {
  name: "test",
  seed: 1,
  datasets: [{ name: "d.csv", hash: contentHash(new Uint8Array([1])), rows: 2, role: "train" as const }],
  contributors: [],
  training: {
    mode: "single" as const,
    rank: 4,
    alpha: 8,
    epochs: 1,
    learningRate: 0.01,
    batchSize: 2,
    weightDecay: 0,
    holdout: 0.2,
    seed: 1,
  },
  metrics: { train: evaluation, heldOut: evaluation },
};

function savedAdapter(labels: string[] | null = ["no", "yes"]) {
  const base = landeBaseModel();
  const dir = mkdtempSync(join(tmpdir(), "openlora-adapter-"));
  const adapter = randomAdapter(base, 4, labels ?? undefined, 3);
  const manifest = saveAdapter(dir, base, adapter, body);
  return { base, dir, adapter, manifest };
}

interface EditableManifest {
  lora: { rank: number };
  baseModel: { hash: string };
  adapter?: unknown;
}

function rewriteManifest(dir: string, change: (manifest: EditableManifest) => void): void {
  const path = join(dir, MANIFEST_FILE);
  const manifest = JSON.parse(readFileSync(path, "utf8"));
  change(manifest);
  writeFileSync(path, JSON.stringify(manifest));
}

describe("adapter files", () => {
  it("saves and loads an adapter with its manifest; the adapter hash is keccak256 of the file bytes", () => {
    const { base, dir, adapter, manifest } = savedAdapter();
    const bytes = readFileSync(join(dir, ADAPTER_FILE));
    expect(manifest.adapter.hash).toBe(contentHash(bytes));
    expect(manifest.baseModel.hash).toBe(base.hash);
    expect(manifest.labels).toEqual(["no", "yes"]);
    const loaded = loadAdapter(dir, base, manifest.adapter.hash);
    expect(loaded.adapter).toEqual(adapter);
    expect(loaded.manifest).toEqual(manifest);
  });

  it("encodes deterministically: same adapter, same bytes", () => {
    const base = landeBaseModel();
    const one = encodeAdapter(randomAdapter(base, 4, ["a", "b", "c"], 9), base);
    const two = encodeAdapter(randomAdapter(base, 4, ["a", "b", "c"], 9), base);
    expect(contentHash(one)).toBe(contentHash(two));
  });

  it("loads an adapter without a task head (it then predicts the base's labels)", () => {
    const { base, dir } = savedAdapter(null);
    const loaded = loadAdapter(dir, base);
    expect(loaded.adapter.head).toBeUndefined();
    expect(loaded.manifest.labels).toEqual(base.labels);
  });

  it("refuses a file whose bytes do not match the manifest hash", () => {
    const { base, dir } = savedAdapter();
    const path = join(dir, ADAPTER_FILE);
    const bytes = readFileSync(path);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 1;
    writeFileSync(path, bytes);
    expect(() => loadAdapter(dir, base)).toThrow(AdapterHashMismatchError);
  });

  it("refuses an adapter when the expected (registry) hash differs", () => {
    const { base, dir } = savedAdapter();
    expect(() => loadAdapter(dir, base, contentHash(new Uint8Array([0])))).toThrow(AdapterHashMismatchError);
    const bytes = new Uint8Array(readFileSync(join(dir, ADAPTER_FILE)));
    expect(() => decodeAdapter(bytes, base, contentHash(new Uint8Array([0])))).toThrow(
      AdapterHashMismatchError,
    );
  });

  it("refuses an adapter made for another base model", () => {
    const { dir, manifest } = savedAdapter();
    const wide = wideBenchmarkBase({ inputDim: 620, hiddenDim: 120, outputDim: 50 });
    expect(() => loadAdapter(dir, wide)).toThrow(BaseModelMismatchError);
    const bytes = new Uint8Array(readFileSync(join(dir, ADAPTER_FILE)));
    expect(() => decodeAdapter(bytes, wide, manifest.adapter.hash)).toThrow(BaseModelMismatchError);
  });

  it("refuses tensors whose shapes do not fit the base", () => {
    const base = landeBaseModel();
    const bytes = writeSafetensors(
      {
        "lora.hidden.a": { shape: [600, 4], data: new Float32Array(2400) },
        "lora.hidden.b": { shape: [4, 120], data: new Float32Array(480) },
      },
      {
        format: "openlora-adapter/1",
        base_model_hash: base.hash,
        target: "hidden",
        rank: "4",
        scale: "1",
        labels: "[]",
      },
    );
    expect(() => decodeAdapter(bytes, base, contentHash(bytes))).toThrow(AdapterShapeError);
    expect(() => decodeAdapter(bytes, base, contentHash(bytes))).toThrow(
      /shape \[600,4\], expected \[620,4\]/,
    );
  });

  it("refuses a manifest that does not describe its file, or is not a manifest", () => {
    const { base, dir } = savedAdapter();
    rewriteManifest(dir, (m) => {
      m.lora.rank = 8;
    });
    expect(() => loadAdapter(dir, base)).toThrow(AdapterShapeError);
    rewriteManifest(dir, (m) => {
      m.lora.rank = 4;
      m.baseModel.hash = contentHash(new Uint8Array([7]));
    });
    expect(() => loadAdapter(dir, base)).toThrow(BaseModelMismatchError);
    rewriteManifest(dir, (m) => {
      delete m.adapter;
    });
    expect(() => loadAdapter(dir, base)).toThrow(ManifestError);
    rewriteManifest(dir, (m) => {
      m.adapter = {
        format: "openlora-adapter/1",
        file: "../escape",
        hash: contentHash(new Uint8Array()),
        bytes: 0,
      };
    });
    expect(() => loadAdapter(dir, base)).toThrow(ManifestError);
  });

  it("refuses a safetensors file that is not an OpenLoRA adapter", () => {
    const base = landeBaseModel();
    const bytes = writeSafetensors({ t: { shape: [1], data: new Float32Array(1) } });
    expect(() => decodeAdapter(bytes, base, contentHash(bytes))).toThrow(SafetensorsFormatError);
  });
});
