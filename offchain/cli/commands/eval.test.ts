// `openlora eval` run as the real CLI: its numbers equal what the merged-weights reference
// predicts for the same rows; it refuses an adapter without a head, labels the adapter does not
// know and a tampered adapter, with exit code 2.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadUseLiteSource } from "../../ml/base/useLite/source";
import { PARITY_SENTENCES } from "../../ml/base/useLite/testing/sentences";
import { denseBatch, runUseLite, useLiteBase } from "../../ml/base/useLite/useLiteBase";
import { createSession } from "../../ml/onnx/session";
import { loadPeftAdapter } from "../../ml/peft/adapterDirectory";
import { buildMergedUseLiteOnnx, classify } from "../../ml/peft/loraMath";
import { writePeftAdapter } from "../../runner/testing/peftAdapters";
import { runCli } from "./cliHarness";

const dir = mkdtempSync(join(tmpdir(), "openlora-cli-eval-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const LABELS = ["bearish", "neutral", "bullish"];
const classifier = join(dir, "classifier");
writePeftAdapter(classifier, { seed: 51, labels: LABELS, bScale: 0.05 });
const embedding = join(dir, "embedding");
writePeftAdapter(embedding, { seed: 52 });

/** Labelled rows: the parity sentences with text, each given a label in turn. */
const ROWS = PARITY_SENTENCES.filter((text) => text.trim() !== "").map((text, i) => ({
  text,
  label: LABELS[i % LABELS.length] as string,
}));

function writeJsonl(name: string, rows: readonly { text: string; label: string }[]): string {
  const file = join(dir, name);
  writeFileSync(file, rows.map((row) => JSON.stringify(row)).join("\n"));
  return file;
}

/** What the merged-weights reference predicts, scored here without the CLI's code. */
async function referenceScores() {
  const { adapter } = loadPeftAdapter(classifier);
  const head = adapter.head;
  if (!head) throw new Error("the fixture lost its head");
  const session = await createSession(buildMergedUseLiteOnnx(loadUseLiteSource(), adapter), 2);
  const ids = ROWS.map((row) => useLiteBase().tokenizer.encode(row.text));
  const probabilities = classify(await runUseLite(session, denseBatch(ids)), head);
  await session.release();
  const confusion = LABELS.map(() => LABELS.map(() => 0));
  ROWS.forEach((row, i) => {
    const p = Array.from(probabilities.subarray(i * LABELS.length, (i + 1) * LABELS.length));
    const predicted = p.indexOf(Math.max(...p));
    const counts = confusion[LABELS.indexOf(row.label)] as number[];
    counts[predicted] = (counts[predicted] as number) + 1;
  });
  const diagonal = LABELS.map((_, c) => (confusion[c] as number[])[c] as number);
  const f1 = LABELS.map((_, c) => {
    const support = (confusion[c] as number[]).reduce((a, b) => a + b, 0);
    const chosen = confusion.reduce((sum, row) => sum + (row[c] as number), 0);
    return support + chosen === 0 ? 0 : (2 * (diagonal[c] as number)) / (support + chosen);
  });
  return {
    confusion,
    accuracy: diagonal.reduce((a, b) => a + b, 0) / ROWS.length,
    macroF1: f1.reduce((a, b) => a + b, 0) / LABELS.length,
  };
}

describe("openlora eval (CLI)", () => {
  it("prints one JSON object whose rows, accuracy, macro-F1 and confusion equal the merged-weights reference", async () => {
    const run = await runCli([
      "--json",
      "eval",
      "--adapter",
      classifier,
      "--data",
      writeJsonl("rows.jsonl", ROWS),
    ]);
    expect(run.code, run.stderr).toBe(0);
    const result = run.json();
    const expected = await referenceScores();
    expect(result).toMatchObject({
      rows: ROWS.length,
      labels: LABELS,
      confusion: expected.confusion,
      adapter: { hash: loadPeftAdapter(classifier).hash },
    });
    expect(result.accuracy).toBeCloseTo(expected.accuracy, 12);
    expect(result.macroF1).toBeCloseTo(expected.macroF1, 12);
    // A random head on three labels: the matrix must not be one column, or it checks little.
    expect(expected.confusion.flat().filter((n) => n > 0).length).toBeGreaterThan(2);
  });

  it("prints rows, accuracy, macro-F1 and a labelled confusion matrix for a CSV", async () => {
    const quote = (text: string) => `"${text.replaceAll('"', '""')}"`;
    const csv = join(dir, "rows.csv");
    writeFileSync(
      csv,
      `text,label\n${ROWS.slice(0, 12)
        .map((r) => `${quote(r.text)},${r.label}`)
        .join("\n")}\n`,
    );
    const run = await runCli(["eval", "--adapter", classifier, "--data", csv]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^rows {6}12$/m);
    expect(run.stdout).toMatch(/^accuracy {2}[01]\.\d{4}$/m);
    expect(run.stdout).toMatch(/^macro-F1 {2}[01]\.\d{4}$/m);
    expect(run.stdout).toMatch(/true \\ predicted +bearish +neutral +bullish/);
    const matrix = run.stdout.split("\n").filter((line) => /^ {2}(bearish|neutral|bullish) /.test(line));
    const counts = matrix.flatMap((line) => line.trim().split(/\s+/).slice(1).map(Number));
    expect(counts).toHaveLength(9);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(12);
  });

  it("refuses an embedding adapter, unknown labels, a lande adapter and a tampered adapter with exit code 2", async () => {
    const data = writeJsonl("few.jsonl", ROWS.slice(0, 3));
    const headless = await runCli(["eval", "--adapter", embedding, "--data", data]);
    expect([headless.code, headless.stderr]).toEqual([
      2,
      `openlora: adapter ${embedding} has no classification head: it serves embeddings, and eval scores classifiers\n`,
    ]);

    const unknown = writeJsonl("unknown.jsonl", [...ROWS.slice(0, 2), { text: "sideways", label: "crab" }]);
    const labels = await runCli(["--json", "eval", "--adapter", classifier, "--data", unknown]);
    expect(labels.code).toBe(2);
    expect(labels.json()).toEqual({
      error: "the data has labels the adapter does not know: crab (its labels: bearish, neutral, bullish)",
      details: { unknown: ["crab"], labels: LABELS },
    });

    const lande = join(dir, "lande");
    mkdirSync(lande);
    writeFileSync(join(lande, "adapter.safetensors"), "not read");
    const wrongKind = await runCli(["eval", "--adapter", lande, "--data", data]);
    expect([wrongKind.code, wrongKind.stderr]).toEqual([
      2,
      `openlora: adapter ${lande} holds adapter.safetensors, a lande adapter: eval scores PEFT adapters on USE-lite (adapter_model.safetensors)\n`,
    ]);

    const file = join(classifier, "adapter_model.safetensors");
    const bytes = readFileSync(file);
    const tampered = Buffer.from(bytes);
    tampered[tampered.length - 7] = (tampered[tampered.length - 7] as number) ^ 0x10;
    writeFileSync(file, tampered);
    try {
      const run = await runCli(["eval", "--adapter", classifier, "--data", data]);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/^openlora: adapter bytes do not match the expected hash/);
    } finally {
      writeFileSync(file, bytes);
    }
  });
});
