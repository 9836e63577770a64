// `npx tsx offchain/bench/baseModel.ts [--json]`: the USE-lite transformer base, our ONNX
// conversion on onnxruntime (1 and 2 threads) against the reference, TF.js running the
// shipped graph on its cpu backend, in one process on the same token rows: rows/s and
// tokens/s at batch 1 and 32 with rows of 8, 32 and 128 tokens (random ids, seeded).
// TF.js is slow here (~20 ms a token): it runs once per shape after a warm-up at batch 1,
// once without warm-up at batch 32, and skips 32 × 128 unless BENCH_TFJS_ALL=1 (~80 s).
// Also times the tokenizer on a long e-mail (cut to 128 tokens).
import type { GraphModel } from "@tensorflow/tfjs-converter";
import type * as ort from "onnxruntime-node";
import { loadTfjsReference, tfjsEmbed } from "../ml/base/useLite/testing/tfjsReference";
import { denseBatch, runUseLite, type UseLiteBase, useLiteBase } from "../ml/base/useLite/useLiteBase";
import { createSession } from "../ml/onnx/session";
import { Rng } from "../ml/random";
import { opsPerSecond, report } from "./table";

const BATCHES = [1, 32];
const TOKENS = [8, 32, 128];
const ONNX_MS = 1_500;
const TFJS_ALL = process.env.BENCH_TFJS_ALL === "1";

function rows(rng: Rng, batch: number, tokens: number): number[][] {
  return Array.from({ length: batch }, () =>
    Array.from({ length: tokens }, () => 6 + Math.floor(rng.next() * 7994)),
  );
}

async function tfjsRate(model: GraphModel, input: number[][], warm: boolean): Promise<number> {
  if (warm) await tfjsEmbed(model, input);
  const start = process.hrtime.bigint();
  await tfjsEmbed(model, input);
  return 1 / (Number(process.hrtime.bigint() - start) / 1e9);
}

function row(method: string, batch: number, tokens: number, runsPerSecond: number | null) {
  const rowsPerSecond = runsPerSecond === null ? null : runsPerSecond * batch;
  return {
    method,
    batch,
    tokens,
    "ms/run": runsPerSecond === null ? "skipped" : (1000 / runsPerSecond).toFixed(2),
    "rows/s": rowsPerSecond === null ? "skipped" : Number(rowsPerSecond.toPrecision(3)),
    "tokens/s": rowsPerSecond === null ? "skipped" : Math.round(rowsPerSecond * tokens),
  };
}

async function onnxRows(base: UseLiteBase, threads: number, rng: Rng) {
  const session: ort.InferenceSession = await createSession(base.onnx, threads);
  const out = [];
  for (const batch of BATCHES) {
    for (const tokens of TOKENS) {
      const input = denseBatch(rows(rng, batch, tokens));
      const rate = await opsPerSecond(() => runUseLite(session, input), ONNX_MS, 1);
      out.push(row(`onnx ${threads} thread${threads > 1 ? "s" : ""}`, batch, tokens, rate));
    }
  }
  return out;
}

async function tfjsRows(rng: Rng) {
  const model = await loadTfjsReference();
  const out = [];
  for (const batch of BATCHES) {
    for (const tokens of TOKENS) {
      const skip = batch > 1 && tokens === 128 && !TFJS_ALL;
      const rate = skip ? null : await tfjsRate(model, rows(rng, batch, tokens), batch === 1);
      out.push(row("tfjs cpu (reference)", batch, tokens, rate));
    }
  }
  return out;
}

function tokenizerRate(base: UseLiteBase): number {
  const email = `Subject: Re: quarterly numbers\n\n${"Thanks for the update, see my notes inline below. ".repeat(200)}`;
  const start = process.hrtime.bigint();
  const n = 200;
  for (let i = 0; i < n; i++) base.tokenizer.encode(`${i} ${email}`);
  return n / (Number(process.hrtime.bigint() - start) / 1e9);
}

const buildStart = process.hrtime.bigint();
const base = useLiteBase();
const buildSeconds = Number(process.hrtime.bigint() - buildStart) / 1e9;
const rng = new Rng(7);
const results = [
  ...(await onnxRows(base, 1, rng)),
  ...(await onnxRows(base, 2, rng)),
  ...(await tfjsRows(rng)),
];
report("USE-lite base: our ONNX on onnxruntime vs TF.js cpu (same shapes, one process)", results, {
  hash: base.hash,
  "convert + hash (s)": buildSeconds.toFixed(2),
  "tokenizer, 10k-char e-mail (texts/s)": Math.round(tokenizerRate(base)),
});
