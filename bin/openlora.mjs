#!/usr/bin/env node
// The `openlora` command. Runs dist/openlora.mjs, the CLI compiled ahead by tools/build-cli.mjs
// (at `npm ci` and `npm run build`), while every source it was built from is unchanged (same
// size and mtime); otherwise the TypeScript sources through tsx's loader, so that an edit takes
// effect without a build. OPENLORA_CLI=tsx always runs the sources; OPENLORA_CLI=dist refuses
// to run anything but a current compiled file.
import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

// OPENLORA_CLI_DIST: another directory the compiled CLI was built into (tools/build-cli.mjs --outdir).
const dist = process.env.OPENLORA_CLI_DIST
  ? pathToFileURL(`${path.resolve(process.env.OPENLORA_CLI_DIST)}/`)
  : new URL("../dist/", import.meta.url);

const shown = (file) => path.relative(process.cwd(), fileURLToPath(new URL(file, dist)));

/** Why the compiled CLI cannot be used, or null when it is current. */
function staleReason() {
  let inputs;
  try {
    ({ inputs } = JSON.parse(readFileSync(new URL("openlora.inputs.json", dist), "utf8")));
    statSync(new URL("openlora.mjs", dist));
  } catch {
    return "dist/openlora.mjs is not built (node tools/build-cli.mjs)";
  }
  for (const { file, size, mtimeMs } of inputs) {
    let stat;
    try {
      stat = statSync(new URL(file, dist));
    } catch {
      return `${shown(file)} is gone since the CLI was compiled`;
    }
    if (stat.size !== size || stat.mtimeMs !== mtimeMs)
      return `${shown(file)} changed since the CLI was compiled`;
  }
  return null;
}

const mode = process.env.OPENLORA_CLI;
const stale = mode === "tsx" ? "OPENLORA_CLI=tsx" : staleReason();
if (stale === null) {
  await import(new URL("openlora.mjs", dist).href);
} else if (mode === "dist") {
  process.stderr.write(`openlora: OPENLORA_CLI=dist, but ${stale}\n`);
  process.exitCode = 2;
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import("../offchain/cli/main.ts");
}
