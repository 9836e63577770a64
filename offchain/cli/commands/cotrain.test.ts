import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { Rng } from "../../ml/random";
import { readDataset } from "../../ml/training/dataset";

const ROOT = fileURLToPath(new URL("../../..", import.meta.url));

function openlora(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile("node", [join(ROOT, "bin/openlora.mjs"), ...args], { cwd: ROOT }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}
const rows = new Rng(4).shuffle([
  ...readDataset(join(ROOT, "offchain/ml/data/spam-assassin/emails.jsonl.gz")).rows,
]);
const dir = mkdtempSync(join(tmpdir(), "openlora-cli-cotrain-"));

function shard(name: string, from: number, to: number, flip = false): string {
  const path = join(dir, name);
  const data = rows
    .slice(from, to)
    .map((r) => ({ text: r.text, label: flip ? (r.label === "spam" ? "ham" : "spam") : r.label }));
  writeFileSync(path, `${data.map((r) => JSON.stringify(r)).join("\n")}\n`);
  return path;
}

describe("openlora cotrain (CLI)", () => {
  it("co-trains across contributors and proposes share units in one JSON object", async () => {
    const run = await openlora([
      "--json",
      "cotrain",
      "--contributor",
      `alice=${shard("alice.jsonl", 0, 200)}`,
      "--contributor",
      `bob=${shard("bob.jsonl", 200, 400)}`,
      "--contributor",
      `mallory=${shard("mallory.jsonl", 400, 600, true)}`,
      "--validation",
      shard("validation.jsonl", 600, 900),
      "--out",
      join(dir, "out"),
      "--rounds",
      "5",
      "--units",
      "1000",
      "--targets",
      "pooler.dense",
      "--max-tokens",
      "32",
    ]);
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result.contributionMethod).toBe("shapley-exact");
    const units = Object.fromEntries(
      result.contributors.map((c: { id: string; units: number }) => [c.id, c.units]),
    );
    expect(units.alice + units.bob + units.mallory).toBe(1000);
    expect(units.mallory).toBeLessThan(Math.min(units.alice, units.bob));
    expect(run.stderr).toMatch(/cotrain coalition 8: alice, bob, mallory/);
    expect(result.lora).toMatchObject({ targetModules: ["pooler.dense"] });
    expect(result.adapter.path).toBe(join(dir, "out", "adapter_model.safetensors"));
  });

  it("refuses a contributor given without a file, with exit code 2", async () => {
    const run = await openlora([
      "cotrain",
      "--contributor",
      "alice",
      "--validation",
      "v.jsonl",
      "--out",
      dir,
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/expected ID=FILE/);
  });
});
