/**
 * Contributors (share-unit holders): what each model owes them, and claiming it, from one model
 * or many in one transfer.
 */
import { type Address, type Hex, isAddressEqual, parseEventLogs } from "viem";
import { call, type OpenLoRAClient, sendTx, signer } from "../client";
import { InvalidArgumentError } from "../errors";
import { coTrainingSharesAbi } from "../generated/abis";

const shares = (client: OpenLoRAClient) =>
  ({ address: client.deployment.coTrainingShares, abi: coTrainingSharesAbi }) as const;

export interface Claimable {
  modelId: bigint;
  units: bigint;
  totalUnits: bigint;
  claimable: bigint;
}

/** What `account` can claim from each of `modelIds` now, with its units there. */
export async function claimableRewards(
  client: OpenLoRAClient,
  account: Address,
  modelIds: readonly bigint[],
): Promise<Claimable[]> {
  return Promise.all(
    modelIds.map(async (modelId) => {
      const [claimable, units, totalUnits] = await call(
        client,
        `CoTrainingShares.claimable(${modelId})`,
        () =>
          Promise.all([
            client.publicClient.readContract({
              ...shares(client),
              functionName: "claimable",
              args: [modelId, account],
            }),
            client.publicClient.readContract({
              ...shares(client),
              functionName: "unitsOf",
              args: [modelId, account],
            }),
            client.publicClient.readContract({
              ...shares(client),
              functionName: "totalUnits",
              args: [modelId],
            }),
          ]),
      );
      return { modelId, units, totalUnits, claimable };
    }),
  );
}

/**
 * Claims the caller's rewards from one model (`claim`) or several in one transfer (`claimMany`).
 * Returns the total paid and what each model paid (from RewardsClaimed events; models that owed
 * nothing pay nothing and emit none).
 */
export async function claimRewards(
  client: OpenLoRAClient,
  modelIds: readonly bigint[],
): Promise<{ amount: bigint; perModel: { modelId: bigint; amount: bigint }[]; hash: Hex }> {
  if (modelIds.length === 0) throw new InvalidArgumentError("name at least one model to claim from");
  const account = signer(client, "CoTrainingShares.claim").address;
  const { hash, receipt } =
    modelIds.length === 1
      ? await sendTx(client, "CoTrainingShares.claim", {
          ...shares(client),
          functionName: "claim",
          args: [modelIds[0] as bigint],
        })
      : await sendTx(client, "CoTrainingShares.claimMany", {
          ...shares(client),
          functionName: "claimMany",
          args: [[...modelIds]],
        });
  // A claim of nothing pays 0 and emits no event: no events is a valid answer here.
  const perModel = parseEventLogs({
    abi: coTrainingSharesAbi,
    logs: receipt.logs,
    eventName: "RewardsClaimed",
  })
    .filter(
      (e) =>
        isAddressEqual(e.address, client.deployment.coTrainingShares) &&
        isAddressEqual(e.args.account, account),
    )
    .map((e) => ({ modelId: e.args.modelId, amount: e.args.amount }));
  return { amount: perModel.reduce((sum, p) => sum + p.amount, 0n), perModel, hash };
}
