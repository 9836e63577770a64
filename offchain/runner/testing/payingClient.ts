/**
 * A consumer for anvil tests: opens a channel to a runner and pays each call with the SDK's
 * paying fetch, keeping the receipts it got back.
 */
import type { Address, LocalAccount } from "viem";
import { createOpenLoRAClient } from "../../../sdk/client";
import { channelLanes } from "../../../sdk/consumer/channels";
import { createPayingFetch, type PaidReceipt } from "../../../sdk/consumer/payingFetch";
import { openChannel, type Protocol } from "./protocolFixture";

/** An Open Inference Protocol request with one text input. */
export const inferBody = (text: string) =>
  JSON.stringify({ inputs: [{ name: "text", datatype: "BYTES", shape: [1], data: [text] }] });

export async function payingClient(p: Protocol, runner: Address, account: LocalAccount, deposit: bigint) {
  const channelId = await openChannel(p, account, runner, deposit);
  const receipts: PaidReceipt[] = [];
  const sdk = createOpenLoRAClient({ rpcUrl: p.anvil.rpcUrl, deployment: p.deployment, account });
  const newPayingFetch = () =>
    createPayingFetch({ lanes: channelLanes(sdk, channelId), onReceipt: (paid) => receipts.push(paid) });
  let pay = newPayingFetch();
  const call = async (url: string, model: bigint, text: string) => {
    const res = await pay(`${url}/v2/models/${model}/infer`, { method: "POST", body: inferBody(text) });
    if (res.status !== 200) throw new Error(`call failed: ${res.status} ${await res.text()}`);
    return (await res.json()) as { outputs: { data: unknown[] }[] };
  };
  /** Forgets every lane's state and known terms, as a consumer restarted without its data does. */
  const loseState = () => {
    pay = newPayingFetch();
  };
  return { channelId, receipts, call, loseState };
}
