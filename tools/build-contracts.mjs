#!/usr/bin/env node
// `forge build` with a line before and after: the first build compiles every contract with the
// WebAssembly solc (tools/solc.mjs), one to two minutes in which forge itself prints nothing,
// so this says what is happening and, every 15 s, that it still is. Later builds reuse forge's
// cache/ and out/ and recompile only what changed. Exits with forge's exit code.
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const started = performance.now();
const seconds = () => ((performance.now() - started) / 1000).toFixed(0);
const say = (line) => process.stderr.write(`contracts: ${line}\n`);

say("forge build (a first build compiles every contract with the WebAssembly solc: 1–2 minutes)");
const forge = spawn(path.join(root, "tools/bin/forge"), ["build", ...process.argv.slice(2)], {
  cwd: root,
  stdio: "inherit",
});
const ticker = setInterval(() => say(`still compiling, ${seconds()} s so far`), 15_000);
forge.once("error", (error) => {
  clearInterval(ticker);
  say(`cannot run forge: ${error.message}`);
  process.exit(1);
});
forge.once("exit", (code, signal) => {
  clearInterval(ticker);
  if (code === 0) say(`built in ${seconds()} s`);
  else say(`forge build failed (${signal ?? `exit code ${code}`}) after ${seconds()} s`);
  process.exit(code ?? 1);
});
