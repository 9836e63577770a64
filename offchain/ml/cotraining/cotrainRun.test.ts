import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadAdapter } from "../adapter/adapterFile";
import { landeBaseModel } from "../base/baseModel";
import { TrainingConfigError } from "../errors";
import { Rng } from "../random";
import { type Dataset, type Example, readDataset } from "../training/dataset";
import { parseCotrainConfig } from "./config";
import { cotrain, cotrainRun } from "./cotrainRun";

const FIXTURE = fileURLToPath(new URL("../data/spam-assassin/emails.jsonl.gz", import.meta.url));
const rows = new Rng(1).shuffle([...readDataset(FIXTURE).rows]).slice(0, 1100);
const clean1 = rows.slice(0, 200);
const clean2 = rows.slice(200, 400);
const flipped = rows.slice(400, 600).map((row) => ({ ...row, label: row.label === "spam" ? "ham" : "spam" }));
const validation = rows.slice(600, 900);

function dataset(name: string, data: Example[]): Dataset {
  return { name, hash: `0x${"0".repeat(64)}`, rows: data };
}

const base = landeBaseModel();
const config = parseCotrainConfig({ rounds: 5, localEpochs: 2, seed: 3 });
const val = dataset("validation", validation);

describe("co-training contributions", () => {
  it("a contributor with label-flipped data earns fewer units than clean contributors of the same size", () => {
    const result = cotrain(
      base,
      [
        { id: "alice", dataset: dataset("a", clean1) },
        { id: "bob", dataset: dataset("b", clean2) },
        { id: "mallory", dataset: dataset("m", flipped) },
      ],
      val,
      undefined,
      config,
    );
    const [alice, bob, mallory] = result.contribution.units as [number, number, number];
    expect(result.contribution.method).toBe("shapley-exact");
    expect(result.contribution.coalitions).toBe(8);
    expect(mallory).toBeLessThan(alice);
    expect(mallory).toBeLessThan(bob);
    expect(result.contribution.values[2]).toBeLessThan(0);
    expect(alice + bob + mallory).toBe(config.totalUnits);
  });

  it("a contributor duplicating another's data does not add credit: the pair shares the original's", () => {
    const without = cotrain(
      base,
      [
        { id: "alice", dataset: dataset("a", clean1) },
        { id: "bob", dataset: dataset("b", clean2) },
      ],
      val,
      undefined,
      config,
    );
    const withCopy = cotrain(
      base,
      [
        { id: "alice", dataset: dataset("a", clean1) },
        { id: "bob", dataset: dataset("b", clean2) },
        { id: "copycat", dataset: dataset("c", [...clean2].reverse()) },
      ],
      val,
      undefined,
      config,
    );
    const [aliceBefore, bobBefore] = without.contribution.units as [number, number];
    const [alice, bob, copycat] = withCopy.contribution.units as [number, number, number];
    expect(bobBefore).toBeGreaterThan(0);
    expect(copycat).toBeLessThanOrEqual(bob);
    expect(bob + copycat).toBeLessThanOrEqual(bobBefore + 1);
    expect(Math.abs(alice - aliceBefore)).toBeLessThanOrEqual(1);
    expect(withCopy.contribution.blocks).toBe(2);
    // The copied rows add no training weight: the adapter is the same as without the copy.
    expect(Array.from(withCopy.params.flat)).toEqual(Array.from(without.params.flat));
  });
});

describe("openlora cotrain (library)", () => {
  it("writes a federated adapter whose manifest lists shards, contributors, contributions and units", () => {
    const dir = mkdtempSync(join(tmpdir(), "openlora-cotrain-"));
    const write = (name: string, data: Example[]) => {
      const path = join(dir, name);
      writeFileSync(path, `${data.map((row) => JSON.stringify(row)).join("\n")}\n`);
      return path;
    };
    const address = "0x00000000000000000000000000000000000000aB";
    const { manifest } = cotrainRun({
      contributors: [
        { id: "alice", file: write("alice.jsonl", clean1) },
        { id: address, file: write("bob.jsonl", clean2) },
      ],
      validation: write("validation.jsonl", validation),
      test: write("test.jsonl", rows.slice(900, 1100)),
      out: join(dir, "out"),
      config: { rounds: 5, localEpochs: 2, seed: 1, totalUnits: 1000 },
    });
    expect(manifest.training).toMatchObject({
      mode: "federated",
      rounds: 5,
      localEpochs: 2,
      totalUnits: 1000,
    });
    expect(manifest.training.contributionMethod).toBe("shapley-exact");
    expect(manifest.contributors.map((c) => [c.id, c.address, c.rows])).toEqual([
      ["alice", undefined, 200],
      [address, address, 200],
    ]);
    expect(manifest.contributors.reduce((sum, c) => sum + c.units, 0)).toBe(1000);
    expect(manifest.datasets.map((d) => [d.role, d.contributor])).toEqual([
      ["shard", "alice"],
      ["shard", address],
      ["validation", undefined],
      ["test", undefined],
    ]);
    expect(manifest.metrics.heldOut.rows).toBe(200);
    expect(manifest.metrics.validation?.rows).toBe(300);
    expect(manifest.metrics.heldOut.accuracy).toBeGreaterThan(0.75);
    expect(loadAdapter(join(dir, "out"), base).manifest).toEqual(manifest);
  });

  it("refuses duplicate or malformed contributor ids", () => {
    const common = { validation: FIXTURE, out: tmpdir(), config: {} };
    expect(() =>
      cotrainRun({
        ...common,
        contributors: [
          { id: "a", file: FIXTURE },
          { id: "a", file: FIXTURE },
        ],
      }),
    ).toThrow(TrainingConfigError);
    expect(() => cotrainRun({ ...common, contributors: [{ id: "bad id", file: FIXTURE }] })).toThrow(
      /bad contributor id/,
    );
    expect(() => cotrainRun({ ...common, contributors: [] })).toThrow(/at least one contributor/);
  });
});
