import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Hex } from "viem";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export class ArtifactNotFoundError extends Error {
  constructor(readonly details: { contract: string; file: string }) {
    super(`No compiled artifact for ${details.contract} at ${details.file}: run \`npm run build\` first`);
    this.name = "ArtifactNotFoundError";
  }
}

/**
 * Creation bytecode of a contract from forge's `out/` folder. The ABIs come from the typed,
 * generated `sdk/generated/abis.ts`; only the bytecode is read at run time.
 */
export function creationBytecode(contract: string, sourceFile = `${contract}.sol`): Hex {
  const file = path.join(repoRoot, "out", sourceFile, `${contract}.json`);
  let artifact: { bytecode?: { object?: string } };
  try {
    artifact = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    throw new ArtifactNotFoundError({ contract, file });
  }
  const object = artifact.bytecode?.object;
  if (!object || object === "0x") throw new ArtifactNotFoundError({ contract, file });
  return object as Hex;
}
