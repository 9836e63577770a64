#!/usr/bin/env node
// A stand-in for the native `solc` binary, backed by the official WebAssembly build from
// the `solc` npm package. Forge cannot download compilers on our machines, but it accepts
// any executable that answers `--version` and `--standard-json` like native solc does.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(import.meta.url);
const solc = require("solc");

/** Parses the flags forge passes: --base-path, --include-path (repeatable), --allow-paths. */
function parseArgs(argv) {
  const opts = { version: false, standardJson: false, roots: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--version") opts.version = true;
    else if (arg === "--standard-json") opts.standardJson = true;
    else if (arg === "--base-path" || arg === "--include-path") opts.roots.push(argv[++i]);
    else if (arg === "--allow-paths")
      i++; // every root above is already allowed
    else if (arg.startsWith("--")) fail(`unsupported flag ${arg}`);
  }
  return opts;
}

function fail(message) {
  process.stderr.write(`solc shim: ${message}\n`);
  process.exit(2);
}

/** Resolves an import against the roots forge passed, as native solc does. */
function makeImportResolver(roots) {
  const candidates = (p) =>
    path.isAbsolute(p) ? [p] : [process.cwd(), ...roots].map((r) => path.resolve(r, p));
  return (importPath) => {
    for (const file of candidates(importPath)) {
      try {
        return { contents: readFileSync(file, "utf8") };
      } catch {
        // not under this root; try the next
      }
    }
    return { error: `File not found: ${importPath}` };
  };
}

const opts = parseArgs(process.argv.slice(2));
if (opts.version) {
  // Native form: "Version: 0.8.30+commit.73712a01.Linux.g++". The wasm build reports
  // "0.8.30+commit.73712a01.Emscripten.clang"; forge only reads the semver part.
  const [semver] = solc.version().split(".Emscripten");
  process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${semver}.Linux.g++\n`);
} else if (opts.standardJson) {
  const input = readFileSync(0, "utf8");
  process.stdout.write(solc.compile(input, { import: makeImportResolver(opts.roots) }));
} else {
  fail("only --version and --standard-json are supported");
}
