// The lint must catch a misformatted file in either language; these run the same checkers
// `npm run lint` runs, on a scratch file inside the repo (so the project's config applies).
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { foundryBinary } from "../offchain/chain/foundryBinary";

const scratch = mkdtempSync(path.join("tools", ".lint-test-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function check(file: string, contents: string): number {
  const target = path.join(scratch, file);
  writeFileSync(target, contents);
  const [command, args] = file.endsWith(".sol")
    ? [foundryBinary("forge"), ["fmt", "--check", target]]
    : ["biome", ["check", target]];
  return spawnSync(command as string, args as string[], { stdio: "ignore" }).status ?? -1;
}

const sol = (body: string) => `// SPDX-License-Identifier: MIT\npragma solidity ^0.8.30;\n\n${body}`;

describe("lint", () => {
  it("accepts formatted TypeScript and rejects misformatted TypeScript", () => {
    expect(check("good.ts", 'export const answer = { value: 42, label: "x" };\n')).toBe(0);
    expect(check("bad.ts", "export const answer={value:42,label:'x'}\n")).not.toBe(0);
  });

  it("accepts formatted Solidity and rejects misformatted Solidity", () => {
    expect(check("Good.sol", sol("contract Good {\n    uint256 public x;\n}\n"))).toBe(0);
    expect(check("Bad.sol", sol("contract Bad{uint public x ;}\n"))).not.toBe(0);
  });
});
