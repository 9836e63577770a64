import { keccak256, toBytes } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { EMPTY_TRANSCRIPT, extendTranscript, requestHash } from "../protocol/typedData";
import { ChannelLanes } from "./lanes";

const CHANNELS = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const consumer = privateKeyToAccount(generatePrivateKey());
const stranger = privateKeyToAccount(generatePrivateKey());

describe("ChannelLanes", () => {
  it("signs consecutive vouchers chaining the request hashes", async () => {
    const lanes = new ChannelLanes(consumer, 31337, CHANNELS, 4n);
    const first = await lanes.signNext(1n, 500n, "a");
    const second = await lanes.signNext(1n, 500n, "b");
    expect(first.requestHash).toBe(requestHash(4n, 1n, 1n, "a"));
    expect(second.voucher).toMatchObject({ cumulativeAmount: 1000n, cumulativeCalls: 2n, modelId: 1n });
    expect(second.voucher.transcriptHash).toBe(
      extendTranscript(first.voucher.transcriptHash, second.requestHash),
    );
    expect((await lanes.signNext(2n, 7n, "c")).voucher.cumulativeCalls).toBe(1n); // lanes are per model
  });

  it("gives concurrent calls distinct call indices, each transcript extending the one before", async () => {
    const lanes = new ChannelLanes(consumer, 31337, CHANNELS, 4n);
    const bodyHash = keccak256(toBytes("b"));
    const [a, b, c] = await Promise.all([
      lanes.signNext(1n, 500n, "a"),
      lanes.signNextForBodyHash(1n, 500n, bodyHash),
      lanes.signNext(1n, 500n, "c"),
    ]);
    expect([a, b, c].map((call) => call.voucher.cumulativeCalls)).toEqual([1n, 2n, 3n]);
    expect(b.requestHash).toBe(requestHash(4n, 1n, 2n, "b"));
    expect(b.voucher.transcriptHash).toBe(extendTranscript(a.voucher.transcriptHash, b.requestHash));
    expect(c.voucher).toMatchObject({ cumulativeAmount: 1500n });
    expect(lanes.cursor(1n).cumulativeCalls).toBe(3n);
  });

  it("adopts the runner's view of a lane only for a voucher it signed itself", async () => {
    const mine = new ChannelLanes(consumer, 31337, CHANNELS, 4n);
    const signed = await mine.signNext(1n, 500n, "a");
    const view = { ...signed.voucher, signature: signed.signature };

    const restarted = new ChannelLanes(consumer, 31337, CHANNELS, 4n);
    expect(await restarted.resync(1n, view)).toBe(true);
    expect(restarted.cursor(1n).cumulativeCalls).toBe(1n);

    // A view signed by someone else, without a signature, or for another channel is ignored.
    const forged = await new ChannelLanes(stranger, 31337, CHANNELS, 4n).signNext(1n, 9_999n, "x");
    const fresh = new ChannelLanes(consumer, 31337, CHANNELS, 4n);
    expect(await fresh.resync(1n, { ...forged.voucher, signature: forged.signature })).toBe(false);
    expect(await fresh.resync(1n, { ...signed.voucher })).toBe(false);
    expect(await fresh.resync(1n, { ...view, channelId: 5n })).toBe(false);
    expect(fresh.cursor(1n).cumulativeCalls).toBe(0n);
  });

  it("resumes a lane from the chain's settled state, keeping its own transcript", async () => {
    const settled = { paidAmount: 1_500n, paidCalls: 3n };
    const lanes = new ChannelLanes(consumer, 31337, CHANNELS, 4n, { settledLane: async () => settled });
    expect(await lanes.catchUpWithChain(1n)).toBe(true);
    expect(lanes.cursor(1n)).toEqual({
      cumulativeAmount: 1_500n,
      cumulativeCalls: 3n,
      transcriptHash: EMPTY_TRANSCRIPT,
    });
    const next = await lanes.signNext(1n, 500n, "d");
    expect(next.voucher).toMatchObject({ cumulativeAmount: 2_000n, cumulativeCalls: 4n });
    expect(next.requestHash).toBe(requestHash(4n, 1n, 4n, "d"));
    expect(await lanes.catchUpWithChain(1n)).toBe(true); // back to what the chain paid: re-signs call 4
    expect(lanes.cursor(1n).transcriptHash).toBe(next.voucher.transcriptHash);
    expect(await lanes.catchUpWithChain(1n)).toBe(false); // already there
  });

  it("cannot resume from the chain without a chain reader, and reports a failed read", async () => {
    expect(await new ChannelLanes(consumer, 31337, CHANNELS, 4n).catchUpWithChain(1n)).toBe(false);
    const down = new ChannelLanes(consumer, 31337, CHANNELS, 4n, {
      settledLane: async () => {
        throw new Error("rpc down");
      },
    });
    await expect(down.catchUpWithChain(1n)).rejects.toThrow("rpc down");
    expect(down.cursor(1n).cumulativeCalls).toBe(0n);
  });
});
