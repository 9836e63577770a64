// `node tools/build-contracts.mjs` (what `npm run demo` and `npm run build` run): says what it
// does before and after forge, and on a built tree forge compiles nothing again.
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";

describe("tools/build-contracts.mjs", () => {
  it("announces the build, reports its time, and reuses forge's cache on a second run", () => {
    const first = spawnSync("node", ["tools/build-contracts.mjs"], { encoding: "utf8" });
    expect(first.status).toBe(0);
    const second = spawnSync("node", ["tools/build-contracts.mjs"], { encoding: "utf8" });
    expect(second.status).toBe(0);
    expect(second.stderr).toMatch(/^contracts: forge build \(a first build compiles/);
    expect(second.stderr).toMatch(/contracts: built in \d+ s\n$/);
    expect(second.stdout).toMatch(/No files changed, compilation skipped/);
  }, 300_000);
});
