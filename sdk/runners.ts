/**
 * Runners as consumers and operators see them in the RunnerRegistry: discovery (endpoint, fee,
 * bond, whether active) and registration with a bond.
 */
import { type Address, type Hex, parseEventLogs } from "viem";
import { call, type OpenLoRAClient, sendTx, signer } from "./client";
import { runnerRegistryAbi, settlementAbi } from "./generated/abis";
import { ensureAllowance } from "./token";

const registry = (client: OpenLoRAClient) =>
  ({ address: client.deployment.runnerRegistry, abi: runnerRegistryAbi }) as const;

export interface RunnerInfo {
  address: Address;
  registered: boolean;
  active: boolean;
  endpoint: string;
  feeBps: number;
  bond: bigint;
  unbonding: bigint;
  totalSlashed: bigint;
}

export async function getRunner(client: OpenLoRAClient, runner: Address): Promise<RunnerInfo> {
  const [r, active] = await call(client, "RunnerRegistry.getRunner", () =>
    Promise.all([
      client.publicClient.readContract({ ...registry(client), functionName: "getRunner", args: [runner] }),
      client.publicClient.readContract({ ...registry(client), functionName: "isActive", args: [runner] }),
    ]),
  );
  return {
    address: runner,
    registered: r.registered,
    active,
    endpoint: r.endpoint,
    feeBps: r.feeBps,
    bond: r.bond,
    unbonding: r.unbonding,
    totalSlashed: r.totalSlashed,
  };
}

/** Every registered runner, in registration order. */
export async function listRunners(client: OpenLoRAClient): Promise<RunnerInfo[]> {
  const count = await call(client, "RunnerRegistry.runnerCount", () =>
    client.publicClient.readContract({ ...registry(client), functionName: "runnerCount" }),
  );
  const addresses = await Promise.all(
    Array.from({ length: Number(count) }, (_, i) =>
      call(client, "RunnerRegistry.runnerAt", () =>
        client.publicClient.readContract({
          ...registry(client),
          functionName: "runnerAt",
          args: [BigInt(i)],
        }),
      ),
    ),
  );
  return Promise.all(addresses.map((a) => getRunner(client, a)));
}

/** The registry's minimum bond for an active runner. */
export async function minBond(client: OpenLoRAClient): Promise<bigint> {
  return call(client, "RunnerRegistry.minBond", () =>
    client.publicClient.readContract({ ...registry(client), functionName: "minBond" }),
  );
}

/** Registers the client's account as a runner at `endpoint`, staking `bond` (default: the minimum). */
export async function registerRunner(
  client: OpenLoRAClient,
  params: { endpoint: string; feeBps: number; bond?: bigint },
): Promise<{ hash: Hex; bond: bigint }> {
  const bond = params.bond ?? (await minBond(client));
  if (bond > 0n) await ensureAllowance(client, client.deployment.runnerRegistry, bond);
  const { hash } = await sendTx(client, "RunnerRegistry.register", {
    ...registry(client),
    functionName: "register",
    args: [params.endpoint, params.feeBps, bond],
  });
  return { hash, bond };
}

/** Fees a runner has accrued from settlements and not yet claimed. */
export async function runnerFeesAccrued(client: OpenLoRAClient, runner: Address): Promise<bigint> {
  return call(client, "Settlement.runnerFeesAccrued", () =>
    client.publicClient.readContract({
      address: client.deployment.settlement,
      abi: settlementAbi,
      functionName: "runnerFeesAccrued",
      args: [runner],
    }),
  );
}

/** Pays the client's accrued runner fees to `to` (default: itself). */
export async function claimRunnerFees(
  client: OpenLoRAClient,
  to?: Address,
): Promise<{ amount: bigint; hash: Hex }> {
  const runner = signer(client, "Settlement.claimRunnerFees").address;
  const { hash, receipt } = await sendTx(client, "Settlement.claimRunnerFees", {
    address: client.deployment.settlement,
    abi: settlementAbi,
    functionName: "claimRunnerFees",
    args: [to ?? runner],
  });
  const events = parseEventLogs({ abi: settlementAbi, logs: receipt.logs, eventName: "RunnerFeesClaimed" });
  return { amount: events.reduce((sum, e) => sum + e.args.amount, 0n), hash };
}
