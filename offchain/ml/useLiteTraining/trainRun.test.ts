// `openlora train` on USE-lite as a library: determinism (same rows, options and seed → same
// bytes), the PEFT files it writes, and refusals before any work.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { DatasetError, TrainingConfigError } from "../errors";
import { loadPeftAdapter } from "../peft/adapterDirectory";
import { ADAPTER_MODEL_FILE } from "../peft/adapterModel";
import { Rng } from "../random";
import { readDataset } from "../training/dataset";
import { useLiteTrainRun } from "./trainRun";

const FIXTURE = fileURLToPath(new URL("../data/spam-assassin/emails.jsonl.gz", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "openlora-uselite-train-"));
const data = join(dir, "sample.jsonl");
writeFileSync(
  data,
  `${new Rng(9)
    .shuffle([...readDataset(FIXTURE).rows])
    .slice(0, 160)
    .map((row) => JSON.stringify(row))
    .join("\n")}\n`,
);
const config = { epochs: 3, maxTokens: 16, seed: 4 };

describe("useLiteTrainRun", () => {
  it("gives the same adapter bytes for the same rows, options and seed, and other bytes for another seed", async () => {
    const first = await useLiteTrainRun({ data: [data], out: join(dir, "a"), config });
    const second = await useLiteTrainRun({ data: [data], out: join(dir, "b"), config });
    const reseeded = await useLiteTrainRun({
      data: [data],
      out: join(dir, "c"),
      config: { ...config, seed: 5 },
    });
    const bytes = (name: string) => readFileSync(join(dir, name, ADAPTER_MODEL_FILE));
    expect(bytes("b").equals(bytes("a"))).toBe(true);
    expect(second.manifest.adapter.hash).toBe(first.manifest.adapter.hash);
    expect(reseeded.manifest.adapter.hash).not.toBe(first.manifest.adapter.hash);
    const loaded = loadPeftAdapter(join(dir, "a"));
    expect(loaded.manifest).toEqual(first.manifest);
    expect(loaded.adapter.config.target_modules).toEqual(["encoder.layer.1.ffn.out", "pooler.dense"]);
    expect(first.manifest.training).toMatchObject({ mode: "single", epochs: 3, maxTokens: 16, holdout: 0.2 });
    expect(first.manifest.metrics.heldOut?.rows).toBe(32);
  }, 120_000);

  it("refuses a module it cannot train, naming it, before reading any data", async () => {
    const run = useLiteTrainRun({
      data: ["no-such-file.jsonl"],
      out: join(dir, "x"),
      config: { targets: ["encoder.layer.0.attention.qkv"] },
    });
    await expect(run).rejects.toBeInstanceOf(TrainingConfigError);
    await expect(run).rejects.toThrow(
      /^cannot train LoRA on encoder\.layer\.0\.attention\.qkv: the trainer fine-tunes/,
    );
  });
  it("scores a separate test file when given one, and records both files", async () => {
    const test = join(dir, "test.csv");
    writeFileSync(
      test,
      'text,label\n"Free money!!! Click now to claim",spam\n"See you at the standup",ham\n',
    );
    const { manifest } = await useLiteTrainRun({ data: [data], test, out: join(dir, "with-test"), config });
    expect(manifest.metrics.heldOut?.rows).toBe(2);
    expect(manifest.metrics.train?.rows).toBe(160);
    expect(manifest.training?.holdout).toBe(0);
    expect(manifest.datasets.map((d) => d.role)).toEqual(["train", "test"]);
  }, 60_000);

  it("refuses bad options and data that cannot make a classifier", async () => {
    const run = (config: Parameters<typeof useLiteTrainRun>[0]["config"], files = [data]) =>
      useLiteTrainRun({ data: files, out: join(dir, "x"), config });
    await expect(run({ rank: 0 })).rejects.toBeInstanceOf(TrainingConfigError);
    await expect(run({ maxTokens: 129 })).rejects.toBeInstanceOf(TrainingConfigError);
    await expect(run({ holdout: 0 })).rejects.toThrow(/no held-out data/);
    const single = join(dir, "single.csv");
    writeFileSync(single, "text,label\nhello,a\nworld,a\nagain,a\n");
    await expect(run({}, [single])).rejects.toBeInstanceOf(DatasetError);
    await expect(run({}, [])).rejects.toThrow(/no data file/);
  });
});
