/**
 * Runs a walkthrough's shell commands as a reader would from the root of a clone: in bash, with
 * `npx openlora` being the project's own `bin/openlora.mjs` (what npm runs for it there). The
 * "clone" is a scratch directory whose directories link to the repository's (but the hidden ones,
 * such as a runner's .openlora), so that the files the walkthrough writes at the top (receipts,
 * the runner's data directory) land in the scratch directory, never in the repository.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface ShellRun {
  command: string;
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface Clone {
  dir: string;
  /** The environment every command runs with: no OPENLORA_* of the developer's, plus `env`. */
  env: NodeJS.ProcessEnv;
  remove(): void;
}

/** A scratch "clone" of `repoRoot`, where `npx openlora` is the project's bin and `env` is set. */
export function makeClone(repoRoot: string, env: Record<string, string>): Clone {
  const dir = mkdtempSync(join(tmpdir(), "openlora-walkthrough-"));
  const clone = join(dir, "clone");
  mkdirSync(clone);
  for (const entry of readdirSync(repoRoot, { withFileTypes: true })) {
    if (entry.isDirectory() && !entry.name.startsWith(".") && entry.name !== "node_modules")
      symlinkSync(join(repoRoot, entry.name), join(clone, entry.name));
  }
  const bin = join(dir, "bin");
  mkdirSync(bin);
  writeFileSync(
    join(bin, "npx"),
    [
      "#!/bin/sh",
      '[ "$1" = openlora ] || { echo "walkthrough: only npx openlora runs here" >&2; exit 127; }',
      "shift",
      `exec node "${join(repoRoot, "bin/openlora.mjs")}" "$@"`,
      "",
    ].join("\n"),
  );
  chmodSync(join(bin, "npx"), 0o755);
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("OPENLORA_")));
  return {
    dir: clone,
    env: { ...clean, ...env, PATH: `${bin}:${process.env.PATH}` },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

function start(clone: Clone, command: string): ChildProcess {
  // Its own process group, so that a Ctrl-C reaches the whole of it, as in a terminal.
  return spawn("bash", ["-c", command], {
    cwd: clone.dir,
    env: clone.env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
}

/** Runs one command to its end; one that runs past `timeoutMs` is killed (its code is then null). */
export function runCommand(clone: Clone, command: string, timeoutMs: number): Promise<ShellRun> {
  const child = start(clone, command);
  const run: ShellRun = { command, code: null, stdout: "", stderr: "" };
  child.stdout?.on("data", (chunk: Buffer) => {
    run.stdout += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    run.stderr += chunk.toString();
  });
  const timer = setTimeout(() => signalGroup(child, "SIGKILL"), timeoutMs);
  return new Promise((resolve) => {
    child.once("close", (code) => {
      clearTimeout(timer);
      run.code = code;
      resolve(run);
    });
  });
}

/** A command that runs until it is interrupted (a chain, a runner). */
export class BackgroundCommand {
  readonly output: { stdout: string; stderr: string } = { stdout: "", stderr: "" };
  private readonly child: ChildProcess;
  private readonly exited: Promise<number | null>;

  constructor(
    clone: Clone,
    readonly command: string,
  ) {
    this.child = start(clone, command);
    this.child.stdout?.on("data", (chunk: Buffer) => {
      this.output.stdout += chunk.toString();
    });
    this.child.stderr?.on("data", (chunk: Buffer) => {
      this.output.stderr += chunk.toString();
    });
    this.exited = new Promise((resolve) => this.child.once("close", (code) => resolve(code)));
  }

  /** Waits until its output shows `text`; throws when it exits first or `timeoutMs` passes. */
  async ready(text: string, timeoutMs: number): Promise<void> {
    const shown = () => this.output.stdout.includes(text) || this.output.stderr.includes(text);
    for (const until = Date.now() + timeoutMs; !shown(); ) {
      if (this.child.exitCode !== null || this.child.signalCode !== null || Date.now() > until)
        throw new Error(
          `\`${this.command}\` did not print "${text}" (${this.child.exitCode === null ? "still running" : `exited ${this.child.exitCode}`}):\n${this.output.stdout}${this.output.stderr}`,
        );
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Ctrl-C: SIGINT to its process group; resolves with its exit code (null: killed after `timeoutMs`). */
  interrupt(timeoutMs: number): Promise<number | null> {
    signalGroup(this.child, "SIGINT");
    const timer = setTimeout(() => signalGroup(this.child, "SIGKILL"), timeoutMs);
    return this.exited.finally(() => clearTimeout(timer));
  }

  /** Kills what is left of it (after a failure). */
  kill(): Promise<number | null> {
    signalGroup(this.child, "SIGKILL");
    return this.exited;
  }
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}
