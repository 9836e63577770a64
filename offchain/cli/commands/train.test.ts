import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { Rng } from "../../ml/random";
import { readDataset } from "../../ml/training/dataset";

const ROOT = fileURLToPath(new URL("../../..", import.meta.url));
const FIXTURE = join(ROOT, "offchain/ml/data/spam-assassin/emails.jsonl.gz");
const dir = mkdtempSync(join(tmpdir(), "openlora-cli-train-"));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function openlora(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile("node", [join(ROOT, "bin/openlora.mjs"), ...args], { cwd: ROOT }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

function csvSample(rows: number): string {
  const sample = new Rng(2).shuffle([...readDataset(FIXTURE).rows]).slice(0, rows);
  const quote = (text: string) => `"${text.replaceAll('"', '""')}"`;
  const path = join(dir, "sample.csv");
  writeFileSync(path, `text,label\n${sample.map((r) => `${quote(r.text)},${r.label}`).join("\n")}\n`);
  return path;
}

describe("openlora train (CLI)", () => {
  it("trains from a CSV file and prints one JSON object with the held-out accuracy", async () => {
    const out = join(dir, "adapter");
    const run = await openlora([
      "--json",
      "train",
      "--data",
      csvSample(400),
      "--out",
      out,
      "--epochs",
      "30",
      "--max-tokens",
      "32",
    ]);
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result.metrics.heldOut.rows).toBe(80);
    expect(result.metrics.heldOut.accuracy).toBeGreaterThan(0.7);
    expect(result.labels).toEqual(["ham", "spam"]);
    expect(result.lora).toMatchObject({ r: 8, targetModules: ["encoder.layer.1.ffn.out", "pooler.dense"] });
    expect(result.adapter.path).toBe(join(out, "adapter_model.safetensors"));
    expect(JSON.parse(readFileSync(join(out, "adapter_config.json"), "utf8"))).toMatchObject({
      peft_type: "LORA",
      target_modules: ["encoder.layer.1.ffn.out", "pooler.dense"],
      modules_to_save: ["classifier"],
    });
    expect(JSON.parse(readFileSync(join(out, "manifest.json"), "utf8")).adapter.hash).toBe(
      result.adapter.hash,
    );
    expect(run.stderr).toMatch(/train epoch 30\/30/);
  });

  it("prints a human summary by default", async () => {
    const run = await openlora([
      "train",
      "--data",
      csvSample(200),
      "--out",
      join(dir, "human"),
      "--epochs",
      "2",
      "--max-tokens",
      "16",
      "--targets",
      "pooler.dense",
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/held-out accuracy 0\.\d{4} \(40 rows\)/);
    expect(run.stdout).toMatch(/LoRA r 8, alpha 16 on pooler\.dense, 2 epochs/);
    expect(run.stdout).toMatch(/adapter .*adapter_model\.safetensors {2}0x[0-9a-f]{64}/);
  });

  it("exits with code 2 and a clear message on malformed data or bad options", async () => {
    const bad = join(dir, "bad.jsonl");
    writeFileSync(bad, '{"text":"fine","label":"a"}\n{"text":"no label"}\n');
    const json = await openlora(["--json", "train", "--data", bad, "--out", join(dir, "x")]);
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout)).toMatchObject({
      error: "unlabeled row 2 in bad.jsonl",
      details: { row: 2 },
    });
    const rank = await openlora([
      "train",
      "--data",
      csvSample(50),
      "--out",
      join(dir, "x"),
      "--rank",
      "zero",
    ]);
    expect(rank.code).toBe(2);
    expect(rank.stderr).toMatch(/^openlora: invalid training options/m);
    const target = await openlora([
      "train",
      "--data",
      csvSample(50),
      "--out",
      join(dir, "x"),
      "--targets",
      "encoder.layer.0.attention.qkv",
    ]);
    expect(target.code).toBe(2);
    expect(target.stderr).toMatch(/^openlora: cannot train LoRA on encoder\.layer\.0\.attention\.qkv/m);
  });
});
