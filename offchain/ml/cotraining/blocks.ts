/**
 * Data blocks: the contributors' rows, pooled and identified by content (label + text),
 * partitioned by who holds them. A row held by one contributor belongs to that contributor's
 * own block; a row submitted by several (copied data) belongs to a block shared by all of
 * them. Contributions are measured per block and a shared block's value is split equally
 * among its holders, so copying someone's data never adds credit to the pair: it only
 * splits the original holder's credit (and duplicated rows add no training weight).
 */
import { TrainingConfigError } from "../errors";
import { contentHash } from "../hash";

export interface DataBlock {
  /** Indices (in contributor order) of the contributors holding these rows. */
  holders: number[];
  /** Pooled row indices (first occurrence of each distinct row). */
  indices: number[];
  /** keccak256 of the block's row keys: seeds its local training, orders aggregation. */
  key: string;
}

/** Most blocks we measure (coalitions are bit masks over blocks). */
export const MAX_BLOCKS = 24;

export function rowKey(row: { text: string; label: string }): string {
  return `${row.label}\u0000${row.text}`;
}

/**
 * Partitions shards (row keys per contributor, pooled in contributor order) into blocks,
 * ordered by their holders (lexicographically), then by key.
 */
export function dataBlocks(shards: ReadonlyArray<readonly string[]>): DataBlock[] {
  const holders = new Map<string, Set<number>>();
  const firstIndex = new Map<string, number>();
  let offset = 0;
  shards.forEach((keys, contributor) => {
    keys.forEach((key, i) => {
      if (!holders.has(key)) {
        holders.set(key, new Set());
        firstIndex.set(key, offset + i);
      }
      holders.get(key)?.add(contributor);
    });
    offset += keys.length;
  });
  const groups = new Map<string, { holders: number[]; keys: string[] }>();
  for (const [key, set] of holders) {
    const owners = [...set].sort((a, b) => a - b);
    const signature = owners.join(",");
    const group = groups.get(signature) ?? { holders: owners, keys: [] };
    group.keys.push(key);
    groups.set(signature, group);
  }
  if (groups.size > MAX_BLOCKS) {
    throw new TrainingConfigError(`contributors' data overlaps in too many ways (${groups.size} blocks)`, {
      blocks: groups.size,
      max: MAX_BLOCKS,
    });
  }
  const blocks = [...groups.values()].map((group) => ({
    holders: group.holders,
    indices: group.keys.map((key) => firstIndex.get(key) as number),
    key: contentHash(new TextEncoder().encode(group.keys.join("\n"))),
  }));
  return blocks.sort((a, b) => compareHolders(a.holders, b.holders) || (a.key < b.key ? -1 : 1));
}

function compareHolders(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
  }
  return a.length - b.length;
}

/** Contributor values from block values: each block's value split equally among its holders. */
export function contributorValues(
  blocks: readonly DataBlock[],
  blockValues: readonly number[],
  contributors: number,
): number[] {
  const values = new Array<number>(contributors).fill(0);
  blocks.forEach((block, b) => {
    const share = (blockValues[b] as number) / block.holders.length;
    for (const holder of block.holders) values[holder] = (values[holder] as number) + share;
  });
  return values;
}
