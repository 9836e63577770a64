import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(import.meta.url);

/** The npm platform suffix of the @foundry-rs/* binary packages. */
function platformSuffix(): string {
  const arch = { x64: "amd64", arm64: "arm64" }[process.arch as string];
  if (!arch) throw new Error(`Foundry has no npm binary for ${process.platform}/${process.arch}`);
  return `${process.platform}-${arch}`;
}

/**
 * Path of a Foundry tool's native binary (`anvil`, `forge`, `cast`) from its npm package.
 * We spawn the binary itself, not the package's Node wrapper: the wrapper drops the tool's
 * exit code, and the pid we hold must be the tool's own so that stopping it stops the tool.
 */
export function foundryBinary(tool: "anvil" | "forge" | "cast"): string {
  const override = process.env[`OPENLORA_${tool.toUpperCase()}_BIN`];
  if (override) return override;
  const pkg = `@foundry-rs/${tool}-${platformSuffix()}`;
  const file = path.join(path.dirname(require.resolve(`${pkg}/package.json`)), "bin", tool);
  if (!existsSync(file)) throw new Error(`${pkg} is installed without its ${tool} binary (${file})`);
  return file;
}
