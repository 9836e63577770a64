// The compiled CLI: tools/build-cli.mjs bundles it, bin/openlora.mjs runs it while its sources
// are unchanged and it answers like the TypeScript sources do; once a source differs from what
// it was built from, bin/openlora.mjs goes back to the sources. Built into a scratch directory
// (OPENLORA_CLI_DIST), so that dist/ stays as the other CLI tests use it.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const outdir = mkdtempSync(path.join("tools", ".cli-build-test-"));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

const openlora = (args: string[], mode: "dist" | "tsx" | "auto") =>
  spawnSync("node", ["bin/openlora.mjs", ...args], {
    encoding: "utf8",
    env: { ...process.env, OPENLORA_CLI_DIST: outdir, ...(mode === "auto" ? {} : { OPENLORA_CLI: mode }) },
  });

let built: ReturnType<typeof spawnSync>;
beforeAll(() => {
  built = spawnSync("node", ["tools/build-cli.mjs", "--outdir", outdir], { encoding: "utf8" });
}, 120_000);

describe("the compiled CLI", () => {
  it("is built, runs while current and prints what the sources print", () => {
    expect(built.status).toBe(0);
    expect(built.stdout).toMatch(/build-cli: tools\/\.cli-build-test-\w+\/openlora\.mjs from \d+ sources/);
    for (const args of [["--help"], ["devnet", "--help"], ["channel", "open", "--help"]]) {
      const compiled = openlora(args, "dist");
      expect(compiled.status).toBe(0);
      expect(compiled.stdout).toBe(openlora(args, "tsx").stdout);
    }
    // A usage error exits the same way through both.
    const bad = openlora(["vault", "redeem"], "dist");
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe(openlora(["vault", "redeem"], "tsx").stderr);
  }, 120_000);

  it("is not used once a source differs from what it was built from", () => {
    const record = path.join(outdir, "openlora.inputs.json");
    const { inputs } = JSON.parse(readFileSync(record, "utf8")) as {
      inputs: { file: string; size: number }[];
    };
    const entry = inputs.find((i) => i.file.endsWith("offchain/cli/main.ts"));
    expect(entry).toBeDefined();
    (entry as { size: number }).size += 1;
    writeFileSync(record, JSON.stringify({ inputs }));
    const refused = openlora(["--help"], "dist");
    expect(refused.status).toBe(2);
    expect(refused.stderr).toBe(
      "openlora: OPENLORA_CLI=dist, but offchain/cli/main.ts changed since the CLI was compiled\n",
    );
    const fallback = openlora(["--help"], "auto");
    expect(fallback.status).toBe(0);
    expect(fallback.stdout).toMatch(/^Usage: openlora/);
  }, 120_000);
});
