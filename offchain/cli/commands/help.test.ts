/**
 * `--help` of every command, found by walking the real CLI's own help: each exits 0 and prints its
 * usage (no stack trace). No chain is needed.
 */
import { describe, expect, it } from "vitest";
import { runCli } from "./cliHarness";

/** The subcommand names listed under "Commands:" in a help text. */
function subcommands(help: string): string[] {
  const section = help.split(/^Commands:$/m)[1];
  if (!section) return [];
  return section
    .split("\n")
    .map((line) => /^ {2}(\S+)/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined && name !== "help");
}

describe("--help", () => {
  it("exits 0 with usage text for every command and subcommand", async () => {
    const seen: string[] = [];
    const walk = async (path: string[]): Promise<void> => {
      const run = await runCli([...path, "--help"]);
      expect({ command: path.join(" "), code: run.code, stderr: run.stderr }).toEqual({
        command: path.join(" "),
        code: 0,
        stderr: "",
      });
      expect(run.stdout).toMatch(new RegExp(`^Usage: openlora ${path.join(" ")}`.trimEnd()));
      seen.push(path.join(" "));
      for (const name of subcommands(run.stdout)) await walk([...path, name]);
    };
    await walk([]);
    // The walk found the commands (a parse that found none would pass vacuously).
    expect(seen).toEqual(expect.arrayContaining(["devnet", "deploy", "vault redeem", "channel close"]));
  }, 120_000);
});
