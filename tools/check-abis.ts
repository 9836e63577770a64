// Fails when sdk/generated/abis.ts is not what @wagmi/cli generates from the current forge
// artifacts, i.e. someone changed a contract and forgot `npm run generate`.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";

const committed = "sdk/generated/abis.ts";
// Inside the repo so that biome formats it with the project's configuration.
const scratch = mkdtempSync(path.join("sdk", "generated", ".check-"));
const fresh = path.join(scratch, "abis.ts");
try {
  const env = { ...process.env, OPENLORA_ABI_OUT: fresh };
  execFileSync("wagmi", ["generate"], { env, stdio: ["ignore", "ignore", "inherit"] });
  execFileSync("biome", ["format", "--write", fresh], { stdio: ["ignore", "ignore", "inherit"] });
  if (readFileSync(fresh, "utf8") !== readFileSync(committed, "utf8")) {
    console.error(`${committed} is out of date with the contracts: run \`npm run generate\` and commit it.`);
    process.exitCode = 1;
  } else {
    console.log(`${committed} is up to date.`);
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
