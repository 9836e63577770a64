import { Rng } from "../random";
import type { Example } from "./dataset";
import { labelsOf } from "./dataset";

/**
 * Stratified held-out split: for each label, a seeded shuffle of its rows and the first
 * round(n × fraction) go to the held-out set. Row order inside each part follows the file.
 */
export function stratifiedSplit(
  rows: readonly Example[],
  fraction: number,
  seed: number,
): { train: Example[]; test: Example[] } {
  const heldOut = new Set<number>();
  for (const label of labelsOf(rows)) {
    const indices = rows.flatMap((row, i) => (row.label === label ? [i] : []));
    Rng.derive(seed, "split", label).shuffle(indices);
    for (const i of indices.slice(0, Math.round(indices.length * fraction))) heldOut.add(i);
  }
  return {
    train: rows.filter((_, i) => !heldOut.has(i)),
    test: rows.filter((_, i) => heldOut.has(i)),
  };
}
