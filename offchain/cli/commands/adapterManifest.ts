/**
 * What `openlora register` (and the demo) reads from an adapter's manifest.json, whichever
 * format wrote it: a PEFT adapter on USE-lite (`openlora-peft-manifest/1`, what `train` and
 * `cotrain` write) or a lande adapter (`openlora-adapter-manifest/1`, still served by runners
 * started with `--base lande`).
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { type ContributorRecord, type DatasetRecord, parseManifest } from "../../ml/adapter/manifest";
import { ModelError } from "../../ml/errors";
import { PEFT_MANIFEST_FORMAT, parsePeftManifest } from "../../ml/peft/manifest";
import { CliError, ExitCode } from "../errors";

export interface RegistrableAdapter {
  name: string;
  baseModel: { id: string; hash: string };
  adapter: { format: string; file: string; hash: string; bytes: number };
  rank: number;
  labels: string[];
  contributors: ContributorRecord[];
  datasets: DatasetRecord[];
  /** "single" or "federated". */
  trainingMode: string;
  heldOutAccuracy: number | undefined;
}

/** The fields of a manifest's JSON that registration needs; refuses what neither schema accepts. */
export function registrableAdapter(json: unknown, file: string): RegistrableAdapter {
  if ((json as { format?: unknown } | null)?.format === PEFT_MANIFEST_FORMAT) {
    const m = parsePeftManifest(json, file);
    return {
      name: m.name,
      baseModel: m.baseModel,
      adapter: m.adapter,
      rank: m.lora.r,
      labels: m.labels,
      contributors: m.contributors,
      datasets: m.datasets,
      trainingMode: m.training?.mode ?? "single",
      heldOutAccuracy: m.metrics.heldOut?.accuracy,
    };
  }
  const m = parseManifest(json, file);
  return {
    name: m.name,
    baseModel: m.baseModel,
    adapter: m.adapter,
    rank: m.lora.rank,
    labels: m.labels,
    contributors: m.contributors,
    datasets: m.datasets,
    trainingMode: m.training.mode,
    heldOutAccuracy: m.metrics.heldOut.accuracy,
  };
}

/** Reads a manifest from a file or from a directory holding manifest.json. */
export function readManifest(location: string): { manifest: RegistrableAdapter; dir: string; file: string } {
  const file =
    existsSync(location) && statSync(location).isDirectory()
      ? path.join(location, "manifest.json")
      : location;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new CliError(`cannot read the manifest ${file}: ${(error as Error).message}`, ExitCode.usage, {
      file,
    });
  }
  try {
    return { manifest: registrableAdapter(json, file), dir: path.dirname(file), file };
  } catch (error) {
    if (error instanceof ModelError) throw new CliError(error.message, ExitCode.usage, error.details);
    throw error;
  }
}
