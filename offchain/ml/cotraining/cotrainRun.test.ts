import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { TrainingConfigError } from "../errors";
import { loadPeftAdapter } from "../peft/adapterDirectory";
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

// The pooler alone and e-mails cut to 32 tokens keep these tests fast; the full defaults are
// exercised by `npm run models` (build-models.test.ts checks its bytes).
const FAST = { targets: ["pooler.dense" as const], maxTokens: 32 };
const config = parseCotrainConfig({ rounds: 5, localEpochs: 2, seed: 3, ...FAST });
const val = dataset("validation", validation);

describe("co-training contributions", () => {
  it("a contributor with label-flipped data earns fewer units than clean contributors of the same size", async () => {
    const result = await cotrain(
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

  it("a contributor duplicating another's data does not add credit: the pair shares the original's", async () => {
    const without = await cotrain(
      [
        { id: "alice", dataset: dataset("a", clean1) },
        { id: "bob", dataset: dataset("b", clean2) },
      ],
      val,
      undefined,
      config,
    );
    const withCopy = await cotrain(
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
  it("writes a federated adapter whose manifest lists shards, contributors, contributions and units", async () => {
    const dir = mkdtempSync(join(tmpdir(), "openlora-cotrain-"));
    const write = (name: string, data: Example[]) => {
      const path = join(dir, name);
      writeFileSync(path, `${data.map((row) => JSON.stringify(row)).join("\n")}\n`);
      return path;
    };
    const address = "0x00000000000000000000000000000000000000aB";
    const { manifest } = await cotrainRun({
      contributors: [
        { id: "alice", file: write("alice.jsonl", clean1) },
        { id: address, file: write("bob.jsonl", clean2) },
      ],
      validation: write("validation.jsonl", validation),
      test: write("test.jsonl", rows.slice(900, 1100)),
      out: join(dir, "out"),
      config: { rounds: 5, localEpochs: 2, seed: 1, totalUnits: 1000, ...FAST },
    });
    expect(manifest.training).toMatchObject({
      maxTokens: 32,
      mode: "federated",
      rounds: 5,
      localEpochs: 2,
      totalUnits: 1000,
    });
    expect(manifest.training?.contributionMethod).toBe("shapley-exact");
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
    expect(manifest.metrics.heldOut?.rows).toBe(200);
    expect(manifest.metrics.validation?.rows).toBe(300);
    expect(manifest.metrics.heldOut?.accuracy).toBeGreaterThan(0.75);
    expect(manifest.lora.targetModules).toEqual(["pooler.dense"]);
    expect(loadPeftAdapter(join(dir, "out")).manifest).toEqual(manifest);
  });

  it("refuses duplicate or malformed contributor ids", async () => {
    const common = { validation: FIXTURE, out: tmpdir(), config: {} };
    await expect(
      cotrainRun({
        ...common,
        contributors: [
          { id: "a", file: FIXTURE },
          { id: "a", file: FIXTURE },
        ],
      }),
    ).rejects.toThrow(TrainingConfigError);
    await expect(cotrainRun({ ...common, contributors: [{ id: "bad id", file: FIXTURE }] })).rejects.toThrow(
      /bad contributor id/,
    );
    await expect(cotrainRun({ ...common, contributors: [] })).rejects.toThrow(/at least one contributor/);
  });
});
