// The runner's chain reads: background refreshes, and a failing RPC. The client here answers getChannel from a
// script; the anvil tests run the same reads against a real chain through a proxy.
import type { PublicClient } from "viem";
import { describe, expect, it } from "vitest";
import { ChainChannelSource, ChainUnavailableError } from "./chain";

const CHANNELS = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const ZERO = "0x0000000000000000000000000000000000000000";
const CONSUMER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";

const onChain = {
  consumer: CONSUMER,
  runner: CONSUMER,
  sessionKey: ZERO,
  previousSessionKey: ZERO,
  previousKeyValidUntil: 0n,
  deposited: 1_000n,
  closesAt: 0n,
  withdrawn: false,
};

/** A client whose getChannel answers with `answer()`, counting the reads. */
function scriptedClient(answer: () => Promise<typeof onChain>) {
  const client = {
    reads: 0,
    readContract: async () => {
      client.reads++;
      return answer();
    },
  };
  return client;
}

describe("ChainChannelSource", () => {
  it("shares one read among concurrent callers", async () => {
    let release: (value: typeof onChain) => void = () => {};
    const client = scriptedClient(() => new Promise((resolve) => (release = resolve)));
    const source = new ChainChannelSource(client as unknown as PublicClient, CHANNELS, 60_000);
    const reads = [source.channel(1n), source.channel(1n), source.channel(1n)];
    release(onChain);
    const channels = await Promise.all(reads);
    expect(channels.map((c) => c?.deposited)).toEqual([1_000n, 1_000n, 1_000n]);
    expect(client.reads).toBe(1);
  });

  it("serves a due entry at once and refreshes it in the background, once", async () => {
    let deposited = 1_000n;
    let release: () => void = () => {};
    const client = scriptedClient(async () => {
      if (deposited > 1_000n) await new Promise<void>((resolve) => (release = resolve)); // a slow refresh
      return { ...onChain, deposited };
    });
    const source = new ChainChannelSource(client as unknown as PublicClient, CHANNELS, 50);
    await source.channel(1n);
    deposited = 2_000n; // topped up on-chain
    await new Promise((resolve) => setTimeout(resolve, 70));
    // Due for a refresh: the callers get the last known state without waiting for it.
    expect((await Promise.all([source.channel(1n), source.channel(1n)])).map((c) => c?.deposited)).toEqual([
      1_000n,
      1_000n,
    ]);
    expect(client.reads).toBe(2);
    release();
    await new Promise((resolve) => setImmediate(resolve));
    expect((await source.channel(1n))?.deposited).toBe(2_000n);
    // A caller that needs the chain's state now waits for it.
    deposited = 3_000n;
    const fresh = source.channel(1n, { fresh: true });
    release();
    expect((await fresh)?.deposited).toBe(3_000n);
  });

  it("serves the last known channel after a failed refresh, without asking again for a period", async () => {
    let down = false;
    const client = scriptedClient(async () => {
      if (down) throw new Error("The request took too long to respond.");
      return onChain;
    });
    const source = new ChainChannelSource(client as unknown as PublicClient, CHANNELS, 50);
    expect((await source.channel(1n))?.deposited).toBe(1_000n);
    down = true;
    await new Promise((resolve) => setTimeout(resolve, 70)); // the entry is due for a refresh
    expect((await source.channel(1n))?.deposited).toBe(1_000n); // the refresh failed: last known
    expect((await source.channel(1n))?.deposited).toBe(1_000n); // within the period: no new read
    expect(client.reads).toBe(2);
    await expect(source.channel(2n)).rejects.toThrow(ChainUnavailableError); // never seen
  });

  it("checks a consumer's code once per period, and takes only ERC-1271's exact magic word", async () => {
    const DIGEST = `0x${"ab".repeat(32)}` as const;
    let returned: `0x${string}` = `0x1626ba7e${"00".repeat(28)}`;
    const client = {
      codeReads: 0,
      calls: 0,
      getCode: async ({ address }: { address: string }) => {
        client.codeReads++;
        return address === CONSUMER ? "0x6080" : undefined;
      },
      call: async () => {
        client.calls++;
        return { data: returned };
      },
    };
    const source = new ChainChannelSource(client as unknown as PublicClient, CHANNELS, 60_000);
    expect(await source.contractApproves(CONSUMER, DIGEST, "0x")).toBe(true);
    expect(await source.contractApproves(CONSUMER, DIGEST, "0x01")).toBe(true);
    expect(client.codeReads).toBe(1);
    // An account without code is never asked (SignatureChecker does not call it either).
    expect(await source.contractApproves(ZERO, DIGEST, "0x")).toBeNull();
    expect(client.calls).toBe(2);
    returned = `0x1626ba7e${"00".repeat(27)}01`; // the selector, with dirty padding
    expect(await source.contractApproves(CONSUMER, DIGEST, "0x")).toBe(false);
    returned = "0x1626ba7e"; // fewer than 32 bytes
    expect(await source.contractApproves(CONSUMER, DIGEST, "0x")).toBe(false);
    returned = `0x1626ba7e${"00".repeat(28)}${"ff".repeat(32)}`; // more is ignored, as on-chain
    expect(await source.contractApproves(CONSUMER, DIGEST, "0x")).toBe(true);
  });
});
