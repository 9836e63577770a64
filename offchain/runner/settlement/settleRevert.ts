/**
 * Why `Settlement.settle` reverted, and which of a batch's lanes it blames: the error decoded
 * against every contract a settlement passes through, and its arguments read by name. An error
 * that names a channel and a model blames that lane; one that names only a channel (closed,
 * withdrawn, unknown, short of balance) every lane of that channel; one that names only a model
 * (unknown or retired in the registry) every lane of that model. Reading the names, not each
 * error's position, keeps this right as the contracts add errors.
 */
import { BaseError, ContractFunctionRevertedError } from "viem";
import {
  modelRegistryAbi,
  modelVaultAbi,
  paymentChannelsAbi,
  runnerRegistryAbi,
  settlementAbi,
} from "../../../sdk/generated/abis";
import type { LaneKey } from "./laneKey";

/** Settlement's ABI plus the errors of the contracts it calls, which bubble up through it. */
export const settleAbi = [
  ...settlementAbi,
  ...paymentChannelsAbi.filter((item) => item.type === "error"),
  ...modelRegistryAbi.filter((item) => item.type === "error"),
  ...modelVaultAbi.filter((item) => item.type === "error"),
  ...runnerRegistryAbi.filter((item) => item.type === "error"),
] as const;

export interface SettleRevert {
  /** The error's name, or null when the revert carried no data viem could decode. */
  name: string | null;
  /** The error's arguments by name. */
  args: Record<string, unknown>;
  /** The error as one line: `PaymentChannels_InvalidSignature(channelId=3, modelId=1, signer=0x…)`. */
  text: string;
}

const ERROR_INPUTS = new Map<string, readonly { name?: string }[]>(
  (settleAbi as readonly { type: string; name?: string; inputs?: readonly { name?: string }[] }[])
    .filter((item) => item.type === "error" && item.name)
    .map((item) => [item.name as string, item.inputs ?? []]),
);

/** The contract revert in `error` (a simulation's or an execution's), or null for any other failure. */
export function settleRevertOf(error: unknown): SettleRevert | null {
  if (!(error instanceof BaseError)) return null;
  const revert = error.walk((e) => e instanceof ContractFunctionRevertedError);
  if (!(revert instanceof ContractFunctionRevertedError)) return null;
  const name = revert.data?.errorName ?? null;
  const values = (revert.data?.args ?? []) as readonly unknown[];
  const inputs = name ? (ERROR_INPUTS.get(name) ?? []) : [];
  const args: Record<string, unknown> = {};
  inputs.forEach((input, i) => {
    args[input.name || `arg${i}`] = values[i];
  });
  const shown = Object.entries(args).map(([key, value]) => `${key}=${String(value)}`);
  const text = name ? `${name}(${shown.join(", ")})` : (revert.reason ?? revert.shortMessage);
  return { name, args, text };
}

/** The lanes of `lanes` that `revert` names: by lane, channel or model; none if it names none. */
export function lanesBlamed<L extends LaneKey>(revert: SettleRevert, lanes: readonly L[]): L[] {
  // Settlement's own errors (its totals check among them) are about the batch, not a lane.
  if (revert.name?.startsWith("Settlement_")) return [];
  const channelId = typeof revert.args.channelId === "bigint" ? revert.args.channelId : undefined;
  const modelId = typeof revert.args.modelId === "bigint" ? revert.args.modelId : undefined;
  if (channelId === undefined && modelId === undefined) return [];
  return lanes.filter(
    (lane) =>
      (channelId === undefined || lane.channelId === channelId) &&
      (modelId === undefined || lane.modelId === modelId),
  );
}

/** A voucher older than what the chain has paid: someone settled the lane first. */
export const isStaleVoucher = (revert: SettleRevert | null) =>
  revert?.name === "PaymentChannels_VoucherStale";

/**
 * The items of a failing set that fail on their own, found by halving it: `executes` tells
 * whether a subset goes through. Halves that pass are not searched further, so one bad item among
 * n costs about 2·log2(n) executions.
 */
export async function failingAlone<T>(
  items: readonly T[],
  executes: (subset: readonly T[]) => Promise<boolean>,
): Promise<T[]> {
  if (await executes(items)) return [];
  if (items.length === 1) return [...items];
  const half = Math.ceil(items.length / 2);
  return [
    ...(await failingAlone(items.slice(0, half), executes)),
    ...(await failingAlone(items.slice(half), executes)),
  ];
}
