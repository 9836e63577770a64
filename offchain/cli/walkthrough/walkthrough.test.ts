/**
 * Follows docs/cli.md's walkthrough as it is written: every block marked for it (docSteps.ts says
 * how: an HTML comment before the block, `<!-- walkthrough -->`, `<!-- walkthrough: background
 * until "…" -->`, `<!-- walkthrough: output -->`) is run with the real CLI against the real devnet
 * the walkthrough starts, in bash, from a scratch clone (shell.ts). Each command must exit 0, and
 * each block of commands must print the lines of the output block that every such block has
 * after it; the background commands (the devnet, the runner) run until the end, when each must
 * stop on Ctrl-C with exit 0. A step that fails skips the steps after it.
 *
 * Substituted, as the walkthrough tells a reader whose ports are taken: free ports for 8545 (the
 * chain) and 8080 (the runner), in commands and output, with OPENLORA_RPC pointing at the chain.
 * Nothing else: ids and addresses are the ones a fresh devnet gives, as the walkthrough says.
 */
import { existsSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../commands/chainOptions";
import { type DocStep, missingOutput, walkthroughSteps } from "./docSteps";
import { BackgroundCommand, type Clone, makeClone, runCommand } from "./shell";

const DOC = "docs/cli.md";
const steps = walkthroughSteps(readFileSync(join(repoRoot, DOC), "utf8"));
const COMMAND_TIMEOUT_MS = 120_000;
const READY_TIMEOUT_MS = 180_000;

let chainPort: number;
let runnerPort: number;
let clone: Clone;
const background: BackgroundCommand[] = [];
let failed = false;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The walkthrough's ports, 8545 and 8080, as the free ones this run uses. */
const substitute = (text: string) =>
  text.replace(/\b8545\b/g, String(chainPort)).replace(/\b8080\b/g, String(runnerPort));
const devnetFile = () => join(repoRoot, "deployments", "local", `31337-${chainPort}.json`);

beforeAll(async () => {
  chainPort = await freePort();
  runnerPort = await freePort();
  clone = makeClone(repoRoot, { OPENLORA_RPC: `http://127.0.0.1:${chainPort}` });
});

afterAll(async () => {
  for (const command of background.reverse()) await command.kill();
  clone?.remove();
  // A devnet killed after a failure leaves its deployments file behind.
  if (chainPort !== undefined) rmSync(devnetFile(), { force: true });
});

async function follow(step: DocStep): Promise<void> {
  if (step.kind === "background") {
    const command = new BackgroundCommand(clone, substitute(step.command));
    background.push(command);
    await command.ready(step.readyWhen, READY_TIMEOUT_MS);
    return;
  }
  let printed = "";
  for (const text of step.commands) {
    const run = await runCommand(clone, substitute(text), COMMAND_TIMEOUT_MS);
    expect(run.code, `\`${run.command}\` exited ${run.code}:\n${run.stdout}${run.stderr}`).toBe(0);
    printed += run.stdout;
  }
  const missing = missingOutput(step.output.map(substitute), printed);
  expect(missing, `${DOC}:${step.line}: no printed line matches "${missing}"; printed:\n${printed}`).toBe(
    null,
  );
}

const title = (step: DocStep) =>
  `${DOC}:${step.line}: ${step.kind === "background" ? step.command : step.commands.join("; ")}`;

describe(`${DOC}'s walkthrough`, () => {
  it("takes a model through its whole life: devnet, runner, paid call, channel closed, vault redeemed", () => {
    const commands = steps.flatMap((s) => (s.kind === "run" ? s.commands : [s.command]));
    for (const needed of [
      "openlora devnet",
      "openlora serve",
      "openlora call",
      "openlora channel close",
      "openlora devnet advance --time",
      "openlora channel withdraw",
      "openlora vault redeem",
    ])
      expect(
        commands.some((c) => c.includes(needed)),
        `no walkthrough step runs ${needed}`,
      ).toBe(true);
    // Each block of commands shows what it prints, so that each step's outcome is checked.
    const unchecked = steps.filter((s) => s.kind === "run" && s.output.length === 0).map((s) => s.line);
    expect(unchecked, `${DOC}: blocks of commands without an output block after them`).toEqual([]);
  });

  for (const step of steps) {
    it(
      title(step),
      async (context) => {
        if (failed) context.skip();
        try {
          await follow(step);
        } catch (error) {
          failed = true;
          throw error;
        }
      },
      READY_TIMEOUT_MS + COMMAND_TIMEOUT_MS,
    );
  }

  it("ends with Ctrl-C in each background terminal, last started first: each exits 0", async (context) => {
    if (failed) context.skip();
    expect(background.length).toBeGreaterThan(0);
    while (background.length > 0) {
      const command = background.pop() as BackgroundCommand;
      const code = await command.interrupt(60_000);
      expect(code, `\`${command.command}\` on Ctrl-C:\n${command.output.stderr}`).toBe(0);
    }
    // The devnet removed its deployments file on the way out.
    expect(existsSync(devnetFile())).toBe(false);
  }, 120_000);
});
