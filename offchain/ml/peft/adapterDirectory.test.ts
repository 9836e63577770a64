import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { USE_LITE_HASH } from "../base/useLite/useLiteBase";
import { AdapterHashMismatchError, BaseModelMismatchError, ManifestError } from "../errors";
import { contentHash } from "../hash";
import { loadPeftAdapter, savePeftAdapter } from "./adapterDirectory";
import { createLoraConfig } from "./config";
import { PeftConfigError, UnsupportedPeftFeatureError } from "./errors";
import { PROVENANCE, randomAdapter } from "./testing/randomAdapter";

const root = mkdtempSync(join(tmpdir(), "peft-dir-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const adapter = randomAdapter(createLoraConfig({ head: true, useRslora: true }), 3, 0.02, ["ham", "spam"]);
let count = 0;

function saved(): string {
  const dir = join(root, `adapter-${count++}`);
  savePeftAdapter(dir, adapter, PROVENANCE);
  return dir;
}

function edit(dir: string, file: string, change: (json: Record<string, unknown>) => void): void {
  const json = JSON.parse(readFileSync(join(dir, file), "utf8"));
  change(json);
  writeFileSync(join(dir, file), JSON.stringify(json));
}

function errorOf(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe("PEFT adapter directory", () => {
  it("saves adapter_config.json, adapter_model.safetensors and manifest.json, and loads them back", () => {
    const dir = saved();
    const config = JSON.parse(readFileSync(join(dir, "adapter_config.json"), "utf8"));
    expect(config).toMatchObject({
      peft_type: "LORA",
      r: 8,
      lora_alpha: 16,
      use_rslora: true,
      task_type: "SEQ_CLS",
    });
    expect(config.modules_to_save).toEqual(["classifier"]);
    const bytes = readFileSync(join(dir, "adapter_model.safetensors"));
    const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
    expect(manifest.adapter).toEqual({
      format: "openlora-peft-lora/1",
      file: "adapter_model.safetensors",
      hash: contentHash(bytes),
      bytes: bytes.length,
    });
    expect(manifest.baseModel).toEqual({ id: "use-lite-en", hash: USE_LITE_HASH });
    expect(manifest.lora).toMatchObject({ r: 8, alpha: 16, useRslora: true, scaling: 16 / Math.sqrt(8) });
    expect(manifest).toMatchObject({ head: true, labels: ["ham", "spam"], seed: 7, name: PROVENANCE.name });
    const loaded = loadPeftAdapter(dir, { expectedHash: contentHash(bytes) });
    expect(loaded.adapter).toEqual(adapter);
    expect(loaded.provenance).toEqual(PROVENANCE);
    expect(loaded.manifest).toEqual(manifest);
  });

  it("writes the same three files for the same adapter", () => {
    const [first, second] = [saved(), saved()];
    for (const file of ["adapter_config.json", "adapter_model.safetensors", "manifest.json"]) {
      expect(readFileSync(join(second, file)).equals(readFileSync(join(first, file))), file).toBe(true);
    }
  });

  it("refuses tampered bytes, another registered hash, another base", () => {
    const dir = saved();
    const path = join(dir, "adapter_model.safetensors");
    const bytes = readFileSync(path);
    expect(errorOf(() => loadPeftAdapter(dir, { expectedHash: `0x${"33".repeat(32)}` }))).toBeInstanceOf(
      AdapterHashMismatchError,
    );
    expect(errorOf(() => loadPeftAdapter(dir, { baseHash: `0x${"44".repeat(32)}` }))).toBeInstanceOf(
      BaseModelMismatchError,
    );
    bytes[bytes.length - 3] = (bytes[bytes.length - 3] as number) ^ 0x40;
    writeFileSync(path, bytes);
    expect(errorOf(() => loadPeftAdapter(dir))).toBeInstanceOf(AdapterHashMismatchError);
  });

  it("refuses an adapter_config.json that disagrees with the file or asks for unserved features", () => {
    const changed = saved();
    edit(changed, "adapter_config.json", (json) => (json.lora_alpha = 32));
    expect(errorOf(() => loadPeftAdapter(changed))).toBeInstanceOf(PeftConfigError);
    const dora = saved();
    edit(dora, "adapter_config.json", (json) => (json.use_dora = true));
    const error = errorOf(() => loadPeftAdapter(dora));
    expect(error).toBeInstanceOf(UnsupportedPeftFeatureError);
    expect(String(error)).toContain("use_dora");
    const broken = saved();
    writeFileSync(join(broken, "adapter_config.json"), "{");
    expect(errorOf(() => loadPeftAdapter(broken))).toBeInstanceOf(PeftConfigError);
  });

  it("refuses a manifest that does not describe its file, or is missing", () => {
    for (const change of [
      (json: Record<string, unknown>) => (json.labels = ["spam", "ham"]),
      (json: Record<string, unknown>) => (json.seed = 8),
      (json: Record<string, unknown>) => (json.name = "renamed"),
      (json: Record<string, unknown>) => (json.lora = { ...(json.lora as object), scaling: 2 }),
      (json: Record<string, unknown>) =>
        (json.adapter = { ...(json.adapter as object), file: "../x.safetensors" }),
    ]) {
      const dir = saved();
      edit(dir, "manifest.json", change);
      expect(
        errorOf(() => loadPeftAdapter(dir)),
        String(change),
      ).toBeInstanceOf(ManifestError);
    }
    const dir = saved();
    rmSync(join(dir, "manifest.json"));
    expect(errorOf(() => loadPeftAdapter(dir))).toBeInstanceOf(ManifestError);
    const noBytes = saved();
    rmSync(join(noBytes, "adapter_model.safetensors"));
    expect(errorOf(() => loadPeftAdapter(noBytes))).toBeInstanceOf(ManifestError);
  });
});
