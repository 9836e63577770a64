import { ContractFunctionRevertedError, encodeErrorResult, type Hex } from "viem";
import { describe, expect, it } from "vitest";
import { failingAlone, lanesBlamed, settleAbi, settleRevertOf } from "./settleRevert";

/** The error viem throws for a settle that reverted with `data`. */
const reverted = (data: Hex) =>
  new ContractFunctionRevertedError({ abi: settleAbi, data, functionName: "settle" });
const revertWith = (errorName: string, args: readonly unknown[]) =>
  settleRevertOf(reverted(encodeErrorResult({ abi: settleAbi, errorName, args } as never)));

const lanes = [
  { channelId: 1n, modelId: 1n },
  { channelId: 1n, modelId: 2n },
  { channelId: 2n, modelId: 1n },
];

describe("settleRevertOf and lanesBlamed", () => {
  it("blames the lane an error names by channel and model, and says so in one line", () => {
    const revert = revertWith("PaymentChannels_InvalidSignature", [1n, 2n, `0x${"00".repeat(20)}`]);
    expect(revert?.text).toBe(
      "PaymentChannels_InvalidSignature(channelId=1, modelId=2, signer=0x0000000000000000000000000000000000000000)",
    );
    expect(lanesBlamed(revert as NonNullable<typeof revert>, lanes)).toEqual([lanes[1]]);
  });

  it("blames every lane of a channel for a channel's error, and of a model for a model's", () => {
    const closed = revertWith("PaymentChannels_ChannelClosed", [1n]);
    expect(lanesBlamed(closed as NonNullable<typeof closed>, lanes)).toEqual([lanes[0], lanes[1]]);
    const retired = revertWith("ModelRegistry_ModelRetired", [1n]);
    expect(lanesBlamed(retired as NonNullable<typeof retired>, lanes)).toEqual([lanes[0], lanes[2]]);
  });

  it("blames no lane for Settlement's own errors, errors without lane arguments, or undecodable reverts", () => {
    const totals = revertWith("Settlement_TotalsMismatch", [1n, 1n, 1n, 2n, 2n]);
    expect(totals?.name).toBe("Settlement_TotalsMismatch");
    expect(lanesBlamed(totals as NonNullable<typeof totals>, lanes)).toEqual([]);
    const paused = revertWith("EnforcedPause", []);
    expect(lanesBlamed(paused as NonNullable<typeof paused>, lanes)).toEqual([]);
    const unknown = settleRevertOf(reverted("0xdeadbeef"));
    expect(unknown?.name).toBeNull();
    expect(lanesBlamed(unknown as NonNullable<typeof unknown>, lanes)).toEqual([]);
  });

  it("is null for failures that are no revert", () => {
    expect(settleRevertOf(new Error("fetch failed"))).toBeNull();
  });
});

describe("failingAlone", () => {
  it("finds the items that fail on their own in few executions", async () => {
    const items = Array.from({ length: 50 }, (_, i) => i);
    let executions = 0;
    const executes = async (subset: readonly number[]) => {
      executions++;
      return !subset.includes(17) && !subset.includes(42);
    };
    expect(await failingAlone(items, executes)).toEqual([17, 42]);
    expect(executions).toBeLessThanOrEqual(4 * Math.ceil(Math.log2(50)) + 1);
    expect(await failingAlone(items, async () => true)).toEqual([]);
    expect(await failingAlone(items, async () => false)).toEqual(items); // every one: no lane's doing
  });
});
