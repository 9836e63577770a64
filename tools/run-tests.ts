// Runs every test of the project, forge's and vitest's, even when the first suite fails, and
// ends with one line counted from both reports: `N passed, N failed`. The same line is written
// to reports/summary.txt so that .ci/run can repeat it last.
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { foundryBinary } from "../offchain/chain/foundryBinary";

interface Counts {
  passed: number;
  failed: number;
}

/** Runs a command with inherited stdin/stderr, echoing stdout and returning it with the exit code. */
function run(command: string, args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "inherit"] });
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      process.stdout.write(chunk);
    });
    child.on("close", (code) => resolve({ code: code ?? 1, stdout }));
  });
}

/** Counts from forge's closing line: "... N tests passed, N failed, N skipped (N total tests)". */
function forgeCounts(stdout: string, code: number): Counts {
  const match = /(\d+) tests passed, (\d+) failed, (\d+) skipped/.exec(stdout);
  if (!match) return { passed: 0, failed: code === 0 ? 0 : 1 }; // did not compile or crashed
  return { passed: Number(match[1]), failed: Number(match[2]) };
}

/** Counts from vitest's JSON report; a missing report means vitest did not get to run. */
function vitestCounts(reportFile: string, code: number): Counts {
  try {
    const report = JSON.parse(readFileSync(reportFile, "utf8"));
    const failed =
      report.numFailedTests + (report.numFailedTestSuites > 0 && report.numFailedTests === 0 ? 1 : 0);
    return { passed: report.numPassedTests, failed };
  } catch {
    return { passed: 0, failed: code === 0 ? 0 : 1 };
  }
}

mkdirSync("reports", { recursive: true });
const vitestReport = "reports/vitest.json";
const forge = await run(foundryBinary("forge"), ["test", ...process.argv.slice(2)]);
const vitest = await run("vitest", [
  "run",
  "--reporter=default",
  "--reporter=json",
  `--outputFile.json=${vitestReport}`,
]);

const f = forgeCounts(forge.stdout, forge.code);
const v = vitestCounts(vitestReport, vitest.code);
const summary = `${f.passed + v.passed} passed, ${f.failed + v.failed} failed`;
console.log(
  `\nforge: ${f.passed} passed, ${f.failed} failed; vitest: ${v.passed} passed, ${v.failed} failed`,
);
console.log(summary);
writeFileSync("reports/summary.txt", `${summary}\n`);
process.exitCode = forge.code !== 0 || vitest.code !== 0 ? 1 : 0;
