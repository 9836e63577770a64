/**
 * Reading a walkthrough's marked blocks out of Markdown, and matching what a block printed with
 * the output block after it.
 */
import { describe, expect, it } from "vitest";
import { missingOutput, shellCommands, WalkthroughMarkError, walkthroughSteps } from "./docSteps";

const doc = (...lines: string[]) => lines.join("\n");

describe("walkthroughSteps", () => {
  it("reads marked blocks only, in order, with their output and background marks", () => {
    const steps = walkthroughSteps(
      doc(
        "# Title",
        "```sh",
        "npx openlora not-marked",
        "```",
        '<!-- walkthrough: background until "Press Ctrl-C" -->',
        "```sh",
        "npx openlora devnet",
        "```",
        "Text.",
        "<!-- walkthrough -->",
        "",
        "```sh",
        "# a comment",
        'npx openlora call http://127.0.0.1:8080 --text "hi" \\',
        "  --count 5   # five",
        "",
        "npx openlora status",
        "```",
        "<!-- walkthrough: output -->",
        "```text",
        "paid … for 5 call(s)",
        "",
        "```",
      ),
    );
    expect(steps).toEqual([
      { kind: "background", line: 5, command: "npx openlora devnet", readyWhen: "Press Ctrl-C" },
      {
        kind: "run",
        line: 10,
        commands: [
          'npx openlora call http://127.0.0.1:8080 --text "hi" --count 5 # five',
          "npx openlora status",
        ],
        output: ["paid … for 5 call(s)"],
      },
    ]);
  });

  it("refuses a mark it does not know, one without a block, and an output block after no commands", () => {
    const refused = (markdown: string) => () => walkthroughSteps(markdown);
    expect(refused(doc("<!-- walkthrough: later -->", "```sh", "ls", "```"))).toThrow(
      new WalkthroughMarkError('unknown walkthrough mark "later"', { line: 1 }),
    );
    expect(refused(doc("x", "<!-- walkthrough -->", "Text.", "```sh", "ls", "```"))).toThrow(
      /line 2: a walkthrough mark must come right before a fenced block/,
    );
    expect(refused(doc("<!-- walkthrough: output -->", "```text", "x", "```"))).toThrow(
      /line 1: an output block must follow a block of commands/,
    );
    expect(refused(doc('<!-- walkthrough: background until "x" -->', "```sh", "a", "b", "```"))).toThrow(
      /a background block holds one command/,
    );
    expect(refused(doc("<!-- walkthrough -->", "```sh", "# only a comment", "```"))).toThrow(
      /holds no command/,
    );
  });
});

describe("shellCommands", () => {
  it("joins continued lines and drops blanks and comments", () => {
    expect(shellCommands(["a \\", "  b", "", "# c", "d"])).toEqual(["a b", "d"]);
  });
});

describe("missingOutput", () => {
  const printed = "opened channel 1 (0xabc)\n  balance   10 tUSD\nwithdrew 9.994 tUSD from channel 1\n";

  it("finds the expected lines in order, whole lines, with … for any text", () => {
    expect(missingOutput(["opened channel 1 (…)", "withdrew 9.994 tUSD from channel 1"], printed)).toBe(null);
    expect(missingOutput(["  balance   10 tUSD"], printed)).toBe(null);
  });

  it("names the first line it does not find: a wrong figure, a part of a line, the wrong order", () => {
    expect(missingOutput(["withdrew 9.995 tUSD from channel 1"], printed)).toBe(
      "withdrew 9.995 tUSD from channel 1",
    );
    expect(missingOutput(["withdrew 9.994 tUSD"], printed)).toBe("withdrew 9.994 tUSD");
    expect(missingOutput(["withdrew …", "opened channel 1 (…)"], printed)).toBe("opened channel 1 (…)");
    expect(missingOutput(["(0x.bc)"], "(0xabc)")).toBe("(0x.bc)");
  });
});
