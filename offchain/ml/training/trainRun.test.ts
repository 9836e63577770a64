import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ADAPTER_FILE, loadAdapter } from "../adapter/adapterFile";
import { landeBaseModel } from "../base/baseModel";
import { DatasetError, TrainingConfigError } from "../errors";
import { contentHash } from "../hash";
import { Rng } from "../random";
import { readDataset } from "./dataset";
import { trainRun } from "./trainRun";

const FIXTURE = fileURLToPath(new URL("../data/spam-assassin/emails.jsonl.gz", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "openlora-train-"));

/** A 600-row shuffled sample of the spam fixture, as a JSONL file. */
function sample(): string {
  const rows = new Rng(5).shuffle([...readDataset(FIXTURE).rows]).slice(0, 600);
  const path = join(dir, "sample.jsonl");
  writeFileSync(path, `${rows.map((row) => JSON.stringify(row)).join("\n")}\n`);
  return path;
}

describe("openlora train (library)", () => {
  const data = sample();
  const config = { epochs: 6, rank: 4, seed: 11 };

  it("is deterministic: same data and seed, same adapter bytes and hash; another seed differs", () => {
    const one = trainRun({ data: [data], out: join(dir, "one"), config });
    const two = trainRun({ data: [data], out: join(dir, "two"), config });
    const other = trainRun({ data: [data], out: join(dir, "other"), config: { ...config, seed: 12 } });
    const bytes = (name: string) => readFileSync(join(dir, name, ADAPTER_FILE));
    expect(bytes("one").equals(bytes("two"))).toBe(true);
    expect(one.manifest.adapter.hash).toBe(two.manifest.adapter.hash);
    expect(readFileSync(join(dir, "one", "manifest.json"), "utf8")).toBe(
      readFileSync(join(dir, "two", "manifest.json"), "utf8"),
    );
    expect(other.manifest.adapter.hash).not.toBe(one.manifest.adapter.hash);
  });

  it("learns the task and records provenance and held-out metrics in the manifest", () => {
    const { manifest } = trainRun({
      data: [data],
      out: join(dir, "learn"),
      config: { ...config, epochs: 10 },
    });
    const { heldOut, train } = manifest.metrics;
    expect(heldOut.rows).toBe(120);
    expect(train.rows).toBe(480);
    // ~30% of the sample is spam: the majority class alone would score about 0.7.
    expect(heldOut.accuracy).toBeGreaterThan(0.8);
    expect(manifest.labels).toEqual(["ham", "spam"]);
    expect(manifest.datasets).toEqual([
      { name: "sample.jsonl", hash: contentHash(readFileSync(data)), rows: 600, role: "train" },
    ]);
    expect(manifest.baseModel.hash).toBe(landeBaseModel().hash);
    expect(manifest.training).toMatchObject({ mode: "single", rank: 4, epochs: 10, seed: 11, holdout: 0.2 });
    const loaded = loadAdapter(join(dir, "learn"), landeBaseModel(), manifest.adapter.hash);
    expect(loaded.adapter.rank).toBe(4);
  });

  it("uses a separate test file when given one", () => {
    const test = join(dir, "test.csv");
    writeFileSync(
      test,
      'text,label\n"Free money!!! Click now to claim",spam\n"See you at the standup",ham\n',
    );
    const { manifest } = trainRun({
      data: [data],
      test,
      out: join(dir, "with-test"),
      config: { ...config, epochs: 2 },
    });
    expect(manifest.metrics.heldOut.rows).toBe(2);
    expect(manifest.metrics.train.rows).toBe(600);
    expect(manifest.datasets.map((d) => d.role)).toEqual(["train", "test"]);
  });

  it("refuses bad options and data that cannot make a classifier", () => {
    expect(() => trainRun({ data: [data], out: join(dir, "x"), config: { rank: 0 } })).toThrow(
      TrainingConfigError,
    );
    expect(() => trainRun({ data: [data], out: join(dir, "x"), config: { epochs: Number.NaN } })).toThrow(
      TrainingConfigError,
    );
    expect(() => trainRun({ data: [data], out: join(dir, "x"), config: { holdout: 0 } })).toThrow(
      /no held-out data/,
    );
    const single = join(dir, "single.csv");
    writeFileSync(single, "text,label\nhello,a\nworld,a\nagain,a\n");
    expect(() => trainRun({ data: [single], out: join(dir, "x"), config: {} })).toThrow(DatasetError);
    expect(() => trainRun({ data: [], out: join(dir, "x"), config: {} })).toThrow(/no data file/);
  });
});
