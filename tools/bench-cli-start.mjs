#!/usr/bin/env node
// How long `openlora` takes to answer, compiled (dist/openlora.mjs) against the TypeScript
// sources through tsx: runs `node bin/openlora.mjs <args>` N times in each mode, one after the
// other, and prints a table of wall and CPU times (or --json). `npm run bench:cli [-- --runs N --json]`.
// Builds the compiled CLI first if it is not current.
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const argv = process.argv.slice(2);
const runs = argv.includes("--runs") ? Number(argv[argv.indexOf("--runs") + 1]) : 10;
const json = argv.includes("--json");
const commands = [["--help"], ["vault", "redeem", "--help"]];

/**
 * One run: wall time, and the CPU time it used (user + system, from bash's `times`), which a
 * busy machine inflates far less than the wall time.
 */
function time(mode, args) {
  const env = { ...process.env, OPENLORA_CLI: mode, BENCH_ARGS: args.join(" ") };
  const script = `node "${path.join(root, "bin/openlora.mjs")}" $BENCH_ARGS >/dev/null || exit 1; times`;
  const started = process.hrtime.bigint();
  const run = spawnSync("bash", ["-c", script], { env, encoding: "utf8" });
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  if (run.status !== 0) throw new Error(`openlora ${args.join(" ")} (${mode}) failed: ${run.stderr}`);
  // `times` prints the shell's own times, then its children's: "0m0.140s 0m0.031s".
  const children = run.stdout.trim().split("\n")[1] ?? "";
  const cpuMs = [...children.matchAll(/(\d+)m([\d.]+)s/g)].reduce(
    (sum, [, m, s]) => sum + (Number(m) * 60 + Number(s)) * 1000,
    0,
  );
  return { wallMs, cpuMs };
}

const stats = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    min: Math.round(sorted[0]),
    median: Math.round(sorted[Math.floor(sorted.length / 2)]),
    max: Math.round(sorted[sorted.length - 1]),
  };
};

const built = spawnSync("node", [path.join(root, "tools/build-cli.mjs")], { stdio: "inherit" });
if (built.status !== 0) process.exit(1);

const rows = [];
for (const args of commands) {
  for (const mode of ["tsx", "dist"]) {
    time(mode, args); // warm the file cache
    const runsOf = Array.from({ length: runs }, () => time(mode, args));
    const wall = stats(runsOf.map((r) => r.wallMs));
    const cpu = stats(runsOf.map((r) => r.cpuMs));
    rows.push({
      command: `openlora ${args.join(" ")}`,
      mode: mode === "dist" ? "compiled" : "tsx",
      runs,
      wallMinMs: wall.min,
      wallMedianMs: wall.median,
      wallMaxMs: wall.max,
      cpuMedianMs: cpu.median,
    });
  }
}
if (json) console.log(JSON.stringify({ node: process.version, rows }));
else console.table(rows);
