/**
 * Test harness for the `openlora` CLI: runs the real command (bin/openlora.mjs) in a child process
 * against a devnet, with a clean environment so that a developer's OPENLORA_* settings never leak
 * into a test.
 */
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Devnet } from "../../chain/devnet";
import { repoRoot } from "./chainOptions";

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as the one JSON object of --json (throws if it is not one). */
  json(): Record<string, unknown>;
}

/** Runs the CLI; `timeoutMs` kills a run that hangs (it then ends with code -1). */
export function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 0): Promise<CliRun> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("OPENLORA_")));
  return new Promise((resolve) => {
    execFile(
      "node",
      [join(repoRoot, "bin/openlora.mjs"), ...args],
      { cwd: repoRoot, env: { ...clean, ...env }, maxBuffer: 16 * 2 ** 20, timeout: timeoutMs },
      (error, stdout, stderr) => {
        resolve({
          code: error ? (error.killed ? -1 : Number(error.code ?? 1)) : 0,
          stdout,
          stderr,
          json: () => JSON.parse(stdout) as Record<string, unknown>,
        });
      },
    );
  });
}

/** Writes the devnet's deployment where the CLI can read it; returns the chain flags to pass. */
export function chainFlags(devnet: Devnet, dir: string): string[] {
  const file = join(dir, `deployment-${devnet.pid}.json`);
  writeFileSync(file, JSON.stringify(devnet.deployment));
  return ["--rpc", devnet.rpcUrl, "--deployment", file];
}
