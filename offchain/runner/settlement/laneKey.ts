/**
 * A lane: a channel's payments for one model. Its own module, free of runtime imports, so that
 * the journal compaction thread loads it without viem or the native addon.
 */
export interface LaneKey {
  channelId: bigint;
  modelId: bigint;
}

export const laneId = (lane: LaneKey) => `${lane.channelId}:${lane.modelId}`;
