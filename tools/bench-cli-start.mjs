#!/usr/bin/env node
// How long `openlora` takes to answer, compiled (dist/openlora.mjs) against the TypeScript
// sources through tsx: runs `node bin/openlora.mjs <args>` N times in each mode, one after the
// other, and prints a table of wall times (or --json). `npm run bench:cli [-- --runs N --json]`.
// Builds the compiled CLI first if it is not current.
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const argv = process.argv.slice(2);
const runs = argv.includes("--runs") ? Number(argv[argv.indexOf("--runs") + 1]) : 10;
const json = argv.includes("--json");
const commands = [["--help"], ["vault", "redeem", "--help"]];

function time(mode, args) {
  const env = { ...process.env, OPENLORA_CLI: mode };
  const started = process.hrtime.bigint();
  const run = spawnSync("node", [path.join(root, "bin/openlora.mjs"), ...args], { env, encoding: "utf8" });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (run.status !== 0)
    throw new Error(`openlora ${args.join(" ")} (${mode}) exited ${run.status}: ${run.stderr}`);
  return ms;
}

const built = spawnSync("node", [path.join(root, "tools/build-cli.mjs")], { stdio: "inherit" });
if (built.status !== 0) process.exit(1);

const rows = [];
for (const args of commands) {
  for (const mode of ["tsx", "dist"]) {
    time(mode, args); // warm the file cache
    const times = Array.from({ length: runs }, () => time(mode, args)).sort((a, b) => a - b);
    const mean = times.reduce((a, b) => a + b, 0) / times.length;
    rows.push({
      command: `openlora ${args.join(" ")}`,
      mode: mode === "dist" ? "compiled" : "tsx",
      runs,
      minMs: Math.round(times[0]),
      medianMs: Math.round(times[Math.floor(times.length / 2)]),
      meanMs: Math.round(mean),
      maxMs: Math.round(times[times.length - 1]),
    });
  }
}
if (json) console.log(JSON.stringify({ node: process.version, rows }));
else console.table(rows);
