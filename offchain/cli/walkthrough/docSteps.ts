/**
 * The steps of a Markdown walkthrough, read from marks its readers do not see: an HTML comment
 * right before a fenced block says what the block is to a test that follows the walkthrough.
 *
 *   <!-- walkthrough -->                        a ```sh block: each command runs in turn, exit 0
 *   <!-- walkthrough: background until "X" -->  a ```sh block of one command that runs until the
 *                                               end, and is ready once its output shows X
 *   <!-- walkthrough: output -->                a ```text block: lines the block before prints
 *                                               on stdout, in order (others may come between);
 *                                               `…` stands for any text within a line
 *
 * In a command block, a line ending in `\` goes on on the next; blank lines and lines that start
 * with `#` are skipped.
 */

export type DocStep =
  | { kind: "run"; line: number; commands: string[]; output: string[] }
  | { kind: "background"; line: number; command: string; readyWhen: string };

export class WalkthroughMarkError extends Error {
  constructor(
    message: string,
    readonly details: { line: number },
  ) {
    super(`line ${details.line}: ${message}`);
    this.name = "WalkthroughMarkError";
  }
}

const MARK = /^<!--\s*walkthrough(?::\s*(.*?))?\s*-->\s*$/;
const BACKGROUND = /^background until "([^"]+)"$/;

interface Fence {
  info: string;
  body: string[];
  /** Index of the line after the closing fence. */
  end: number;
}

/** The fenced block that starts at `start` (its opening line). */
function readFence(lines: string[], start: number): Fence | null {
  const open = /^(`{3,}|~{3,})\s*(.*)$/.exec(lines[start] ?? "");
  if (!open) return null;
  const fence = open[1] as string;
  const body: string[] = [];
  for (let i = start + 1; i < lines.length; i++) {
    if ((lines[i] as string).trimEnd() === fence)
      return { info: (open[2] as string).trim(), body, end: i + 1 };
    body.push(lines[i] as string);
  }
  return null;
}

/** The commands of a shell block: continuation lines joined, blanks and comments dropped. */
export function shellCommands(body: string[]): string[] {
  const commands: string[] = [];
  let pending = "";
  for (const raw of body) {
    const line = raw.trimEnd();
    if (pending === "" && (line.trim() === "" || line.trim().startsWith("#"))) continue;
    if (line.endsWith("\\")) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    commands.push((pending + line).replace(/\s+/g, " ").trim());
    pending = "";
  }
  if (pending !== "") commands.push(pending.trim());
  return commands;
}

/** Every marked step of the walkthrough in `markdown`, in order. */
export function walkthroughSteps(markdown: string): DocStep[] {
  const lines = markdown.split("\n");
  const steps: DocStep[] = [];
  for (let i = 0; i < lines.length; i++) {
    const mark = MARK.exec((lines[i] as string).trim());
    if (!mark) continue;
    const line = i + 1;
    let next = i + 1;
    while (next < lines.length && (lines[next] as string).trim() === "") next++;
    const fence = readFence(lines, next);
    if (!fence)
      throw new WalkthroughMarkError("a walkthrough mark must come right before a fenced block", { line });
    const what = mark[1] ?? "";
    if (what === "output") {
      const last = steps.at(-1);
      if (last?.kind !== "run" || last.output.length > 0)
        throw new WalkthroughMarkError("an output block must follow a block of commands", { line });
      last.output = fence.body.map((l) => l.trimEnd()).filter((l) => l !== "");
    } else {
      const commands = shellCommands(fence.body);
      if (commands.length === 0)
        throw new WalkthroughMarkError("a walkthrough block holds no command", { line });
      const background = BACKGROUND.exec(what);
      if (background) {
        if (commands.length !== 1)
          throw new WalkthroughMarkError("a background block holds one command", { line });
        steps.push({
          kind: "background",
          line,
          command: commands[0] as string,
          readyWhen: background[1] as string,
        });
      } else if (what === "") steps.push({ kind: "run", line, commands, output: [] });
      else throw new WalkthroughMarkError(`unknown walkthrough mark "${what}"`, { line });
    }
    i = fence.end - 1;
  }
  return steps;
}

/** A line of an output block as a pattern over one whole printed line (`…`: any text). */
function linePattern(expected: string): RegExp {
  const parts = expected.split("…").map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  return new RegExp(`^${parts.join(".*")}$`);
}

/**
 * The first line of `expected` that `printed` does not show in order (other printed lines may
 * come between), or null when it shows them all.
 */
export function missingOutput(expected: string[], printed: string): string | null {
  const lines = printed.split("\n").map((l) => l.trimEnd());
  let at = 0;
  for (const want of expected) {
    const pattern = linePattern(want);
    while (at < lines.length && !pattern.test(lines[at] as string)) at++;
    if (at === lines.length) return want;
    at++;
  }
  return null;
}
