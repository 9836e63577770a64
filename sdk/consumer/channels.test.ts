import { createTestClient, type Hex, http, keccak256, toBytes } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Devnet, startDevnet } from "../../offchain/chain/devnet";
import { createOpenLoRAClient, type OpenLoRAClient, withAccount } from "../client";
import { ContractRevertError, InvalidArgumentError } from "../errors";
import { getRunner, listRunners, registerRunner } from "../runners";
import { balanceOf } from "../token";
import {
  channelLanes,
  channelsOf,
  getChannel,
  getLane,
  isAuthorizedSigner,
  openChannel,
  requestClose,
  setSessionKey,
  topUpChannel,
  withdrawChannel,
} from "./channels";

let devnet: Devnet;
let runner: OpenLoRAClient;
let consumer: OpenLoRAClient;
const key = (i: number) => (devnet.accounts[i] as { privateKey: Hex }).privateKey;
const address = (i: number) => (devnet.accounts[i] as { address: Hex }).address;

beforeAll(async () => {
  devnet = await startDevnet({ accounts: 4 });
  runner = createOpenLoRAClient({ rpcUrl: devnet.rpcUrl, deployment: devnet.deployment, account: key(1) });
  consumer = withAccount(runner, key(2));
  await registerRunner(runner, { endpoint: "http://127.0.0.1:8080", feeBps: 1_000 });
});

afterAll(async () => {
  await devnet?.stop();
});

describe("runners", () => {
  it("lists registered runners with their endpoint, fee and bond", async () => {
    const [listed] = await listRunners(consumer);
    expect(listed).toMatchObject({
      address: address(1),
      registered: true,
      active: true,
      endpoint: "http://127.0.0.1:8080",
      feeBps: 1_000,
      bond: 100_000_000n,
    });
    expect((await getRunner(consumer, address(3))).registered).toBe(false);
  });
});

describe("channels", () => {
  let channelId: bigint;

  it("opens with an approve, tops up with a permit, and reads the channel back", async () => {
    const before = await balanceOf(consumer, address(2));
    ({ channelId } = await openChannel(consumer, { runner: address(1), amount: 5_000_000n }));
    expect(channelId).toBe(1n);
    const { deposited } = await topUpChannel(consumer, channelId, 2_500_000n, { permit: true });
    expect(deposited).toBe(7_500_000n);
    expect(await balanceOf(consumer, address(2))).toBe(before - 7_500_000n);
    expect(await getChannel(consumer, channelId)).toMatchObject({
      channelId,
      consumer: address(2),
      runner: address(1),
      sessionKey: null,
      deposited: 7_500_000n,
      paid: 0n,
      balance: 7_500_000n,
      closesAt: 0n,
      state: "open",
    });
    expect(await getLane(consumer, channelId, 1n)).toEqual({ paidAmount: 0n, paidCalls: 0n });
  });

  it("opens with a permit and a session key that may sign vouchers", async () => {
    const session = privateKeyToAccount(keccak256(toBytes("session key")));
    const opened = await openChannel(consumer, {
      runner: address(1),
      amount: 1_000_000n,
      sessionKey: session.address,
      permit: true,
    });
    expect(await isAuthorizedSigner(consumer, opened.channelId, session.address)).toBe(true);
    expect(await isAuthorizedSigner(consumer, opened.channelId, address(3))).toBe(false);
    const lanes = channelLanes(consumer, opened.channelId, session);
    const call = await lanes.signNext(1n, 1_000n, "{}");
    expect(call.voucher).toMatchObject({
      channelId: opened.channelId,
      modelId: 1n,
      cumulativeAmount: 1_000n,
      cumulativeCalls: 1n,
    });
    expect(await channelsOf(consumer, address(2))).toEqual([channelId, opened.channelId]);
  });

  it("closes: request, challenge period, withdraw of everything unpaid", async () => {
    await setSessionKey(consumer, channelId, address(3));
    expect((await getChannel(consumer, channelId)).sessionKey).toBe(address(3));
    const early = await withdrawChannel(consumer, channelId).catch((e: unknown) => e);
    expect((early as ContractRevertError).errorName).toBe("PaymentChannels_CloseNotRequested");

    const { closesAt } = await requestClose(consumer, channelId);
    expect((await getChannel(consumer, channelId)).state).toBe("closing");
    const during = await withdrawChannel(consumer, channelId).catch((e: unknown) => e);
    expect(during).toBeInstanceOf(ContractRevertError);
    expect((during as ContractRevertError).errorName).toBe("PaymentChannels_ChallengePeriodActive");

    const test = createTestClient({ mode: "anvil", transport: http(devnet.rpcUrl) });
    await test.setNextBlockTimestamp({ timestamp: closesAt });
    await test.mine({ blocks: 1 });
    expect((await getChannel(consumer, channelId)).state).toBe("closable");
    const before = await balanceOf(consumer, address(2));
    const { amount, paid } = await withdrawChannel(consumer, channelId);
    expect({ amount, paid }).toEqual({ amount: 7_500_000n, paid: 0n });
    expect(await balanceOf(consumer, address(2))).toBe(before + 7_500_000n);
    expect(await getChannel(consumer, channelId)).toMatchObject({ state: "closed", balance: 0n });
  });

  it("refuses bad channels with the contract's reasons", async () => {
    const unregistered = await openChannel(consumer, { runner: address(3), amount: 1n }).catch(
      (e: unknown) => e,
    );
    expect(unregistered).toBeInstanceOf(ContractRevertError);
    expect((unregistered as ContractRevertError).errorName).toBe("PaymentChannels_RunnerNotRegistered");
    await expect(openChannel(consumer, { runner: address(1), amount: 0n })).rejects.toThrow(
      InvalidArgumentError,
    );
    await expect(getChannel(consumer, 999n)).rejects.toThrow(
      /PaymentChannels_UnknownChannel\(channelId=999\)/,
    );
    const notMine = await topUpChannel(withAccount(consumer, key(3)), 2n, 1n).catch((e: unknown) => e);
    expect((notMine as ContractRevertError).errorName).toBe("PaymentChannels_NotConsumer");
  });
});
