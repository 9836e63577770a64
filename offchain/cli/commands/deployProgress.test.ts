import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { deployingLine, withTicker } from "./deployProgress";

describe("deploy progress", () => {
  it("says that forge will compile the contracts first when nothing is compiled", () => {
    const root = mkdtempSync(path.join(tmpdir(), "openlora-progress-"));
    expect(deployingLine(root, "starting anvil")).toMatch(/forge compiles every contract first/);
    mkdirSync(path.join(root, "out", "Deploy.s.sol"), { recursive: true });
    writeFileSync(path.join(root, "out", "Deploy.s.sol", "Deploy.json"), "{}");
    expect(deployingLine(root, "starting anvil")).toBe("starting anvil…");
  });

  it("ticks while the work runs and stops when it settles, failed or not", async () => {
    const lines: string[] = [];
    const slow = new Promise((resolve) => setTimeout(() => resolve("done"), 130));
    await expect(withTicker((line) => lines.push(line), slow, 40)).resolves.toBe("done");
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines[0]).toMatch(/^still working, \d+ s so far…$/);
    const after = lines.length;
    await expect(withTicker((line) => lines.push(line), Promise.reject(new Error("no")), 40)).rejects.toThrow(
      "no",
    );
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(lines.length).toBe(after);
  });
});
