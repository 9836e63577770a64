#!/usr/bin/env node
// Compiles the `openlora` CLI ahead of time: esbuild bundles offchain/cli/main.ts, the
// project's TypeScript it imports and most packages it uses into dist/openlora.mjs (and chunks
// beside it), minified, so that a command starts without tsx's on-the-fly compile and without
// loading hundreds of package files. bin/openlora.mjs runs it while dist/openlora.inputs.json
// says every source it was built from is unchanged, else the sources through tsx.
// Runs at `npm ci` (the install script) and in `npm run build`; or `node tools/build-cli.mjs`.
import { readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const outdirFlag = process.argv.indexOf("--outdir");
// --outdir: another directory than dist/ (tests build there, leaving dist/ to the commands running).
const dist = outdirFlag > 0 ? path.resolve(process.argv[outdirFlag + 1] ?? "") : path.join(root, "dist");

/**
 * Modules find files beside themselves with import.meta.url (the repo root, native addons,
 * workers): in the bundle each keeps its own, as a URL relative to the bundle's.
 */
const ownImportMetaUrl = {
  name: "own-import-meta-url",
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, (args) => {
      const source = readFileSync(args.path, "utf8");
      if (!source.includes("import.meta.url")) return undefined;
      const relative = path.relative(dist, args.path).split(path.sep).join("/");
      const own = `new URL(${JSON.stringify(relative)}, import.meta.url).href`;
      return { contents: source.replaceAll("import.meta.url", own), loader: "ts" };
    });
  },
};

const EXTERNAL = [
  "onnxruntime-node",
  "keccak",
  "secp256k1",
  "node-gyp-build",
  "pino",
  "thread-stream",
  "@energetic-ai/*",
  "@tensorflow/*",
  "esbuild",
  "tsx",
];

async function main() {
  let esbuild;
  try {
    esbuild = await import("esbuild");
  } catch {
    console.error("build-cli: esbuild is not installed; openlora will run through tsx");
    return;
  }
  const started = performance.now();
  rmSync(dist, { recursive: true, force: true });
  const result = await esbuild.build({
    entryPoints: [path.join(root, "offchain/cli/main.ts")],
    outdir: dist,
    entryNames: "openlora",
    // The commands' lazy imports (serve, train: onnxruntime, the runner, the ML code) become
    // chunks beside the entry, loaded only by those commands.
    chunkNames: "openlora-[name]-[hash]",
    bundle: true,
    splitting: true,
    outExtension: { ".js": ".mjs" },
    platform: "node",
    format: "esm",
    target: "node20",
    // Bundled: viem, zod, commander and the rest, tree-shaken (importing viem's ESM files one by
    // one costs ~0.25 s). Left in node_modules: native addons, and packages that load files
    // or workers of their own by path.
    external: EXTERNAL,
    minify: true,
    sourcemap: "linked",
    metafile: true,
    logLevel: "warning",
    plugins: [ownImportMetaUrl],
    // Bundled CommonJS packages require node's own modules.
    banner: {
      js: 'import { createRequire as __createRequire } from "node:module"; const require = __createRequire(import.meta.url);',
    },
  });
  // What bin/openlora.mjs checks before it trusts the bundle: the size and mtime of each
  // project source, and of package-lock.json (what node_modules holds).
  const sources = Object.keys(result.metafile.inputs).filter((input) => !input.startsWith("node_modules/"));
  const inputs = [...sources, "package-lock.json"].map((input) => {
    const file = path.resolve(root, input);
    const { size, mtimeMs } = statSync(file);
    return { file: path.relative(dist, file).split(path.sep).join("/"), size, mtimeMs };
  });
  writeFileSync(path.join(dist, "openlora.inputs.json"), `${JSON.stringify({ inputs })}\n`);
  const ms = (performance.now() - started).toFixed(0);
  const where = path.relative(root, path.join(dist, "openlora.mjs"));
  console.log(`build-cli: ${where} from ${inputs.length} sources in ${ms} ms`);
}

// --optional (the install script): a failed build leaves openlora on tsx, and `npm ci` goes on.
const optional = process.argv.includes("--optional");
try {
  await main();
} catch (error) {
  console.error(`build-cli: could not compile the CLI: ${error.message.split("\n")[0]}`);
  if (optional) console.error("build-cli: openlora will run through tsx (slower to start)");
  process.exitCode = optional ? 0 : 1;
}
