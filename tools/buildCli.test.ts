// The compiled CLI: tools/build-cli.mjs writes dist/openlora.mjs, bin/openlora.mjs runs it while
// its sources are unchanged and answers like the TypeScript sources do; once a source differs
// from what it was built from, bin/openlora.mjs goes back to the sources.
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";

const openlora = (args: string[], mode?: string) =>
  spawnSync("node", ["bin/openlora.mjs", ...args], {
    encoding: "utf8",
    env: { ...process.env, ...(mode ? { OPENLORA_CLI: mode } : {}) },
  });
const build = () => spawnSync("node", ["tools/build-cli.mjs"], { encoding: "utf8" });

afterAll(() => {
  build();
});

describe("the compiled CLI", () => {
  it("is built, runs while current and prints what the sources print", () => {
    const built = build();
    expect(built.status).toBe(0);
    expect(built.stdout).toMatch(/build-cli: dist\/openlora\.mjs from \d+ sources/);
    for (const args of [["--help"], ["devnet", "--help"], ["channel", "open", "--help"]]) {
      const compiled = openlora(args, "dist");
      const sources = openlora(args, "tsx");
      expect(compiled.status).toBe(0);
      expect(compiled.stdout).toBe(sources.stdout);
    }
    // A usage error exits the same way through both.
    const bad = openlora(["vault", "redeem"], "dist");
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe(openlora(["vault", "redeem"], "tsx").stderr);
  }, 120_000);

  it("is not used once a source differs from what it was built from", () => {
    expect(build().status).toBe(0);
    const record = "dist/openlora.inputs.json";
    const { inputs } = JSON.parse(readFileSync(record, "utf8")) as {
      inputs: { file: string; size: number }[];
    };
    const entry = inputs.find((i) => i.file.endsWith("offchain/cli/main.ts"));
    expect(entry).toBeDefined();
    (entry as { size: number }).size += 1;
    writeFileSync(record, JSON.stringify({ inputs }));
    const refused = openlora(["--help"], "dist");
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/offchain\/cli\/main\.ts changed since dist\/openlora\.mjs was built/);
    const fallback = openlora(["--help"]);
    expect(fallback.status).toBe(0);
    expect(fallback.stdout).toMatch(/^Usage: openlora/);
  }, 120_000);
});
