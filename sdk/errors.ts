/**
 * Errors of the SDK's chain-facing functions: one class per kind, each with a short message and
 * the details a caller needs to act on it. Callers tell them apart with `instanceof`; the CLI
 * maps them to its exit codes.
 */
import {
  type Abi,
  BaseError,
  ContractFunctionRevertedError,
  decodeErrorResult,
  type Hex,
  HttpRequestError,
  TimeoutError,
  WebSocketRequestError,
} from "viem";
import {
  coTrainingSharesAbi,
  modelRegistryAbi,
  modelVaultAbi,
  modelVaultFactoryAbi,
  paymentChannelsAbi,
  runnerRegistryAbi,
  settlementAbi,
  testUsdAbi,
} from "./generated/abis";

export class OpenLoRAError extends Error {
  constructor(
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The node could not be reached (connection refused, timeout, HTTP error). */
export class RpcUnreachableError extends OpenLoRAError {}

/** A contract call or transaction reverted; `errorName` and `args` are the decoded custom error. */
export class ContractRevertError extends OpenLoRAError {
  constructor(
    message: string,
    readonly errorName: string,
    readonly args: Record<string, unknown>,
    details: Record<string, unknown> = {},
  ) {
    super(message, { ...details, errorName, args });
  }
}

/** A transaction was mined but failed, or its receipt lacks the event it must carry. */
export class TransactionFailedError extends OpenLoRAError {}

/** An argument is invalid before anything is sent (amount, address, consent set, ...). */
export class InvalidArgumentError extends OpenLoRAError {}

/** The operation needs an account (a signer) and the client has none. */
export class MissingAccountError extends OpenLoRAError {}

/** Every custom error of every protocol contract (and the OpenZeppelin ones they inherit). */
type AbiError = Extract<Abi[number], { type: "error" }>;

export const allErrorsAbi: readonly AbiError[] = (() => {
  const seen = new Map<string, AbiError>();
  const abis: Abi[] = [
    modelRegistryAbi,
    coTrainingSharesAbi,
    modelVaultAbi,
    modelVaultFactoryAbi,
    paymentChannelsAbi,
    runnerRegistryAbi,
    settlementAbi,
    testUsdAbi,
  ];
  for (const abi of abis) {
    for (const item of abi) {
      if (item.type !== "error") continue;
      const key = `${item.name}(${item.inputs.map((i) => i.type).join(",")})`;
      if (!seen.has(key)) seen.set(key, item);
    }
  }
  return [...seen.values()];
})();

function stringify(value: unknown): string {
  if (typeof value === "bigint") return value.toString();
  if (Array.isArray(value)) return `[${value.map(stringify).join(", ")}]`;
  return String(value);
}

/** Decodes revert data against every protocol error; null when it matches none. */
export function decodeRevert(data: Hex): { errorName: string; args: Record<string, unknown> } | null {
  try {
    const decoded = decodeErrorResult({ abi: allErrorsAbi as Abi, data });
    const inputs = decoded.abiItem && "inputs" in decoded.abiItem ? decoded.abiItem.inputs : [];
    const values = (decoded.args ?? []) as readonly unknown[];
    const args = Object.fromEntries(values.map((v, i) => [inputs[i]?.name || `arg${i}`, v]));
    return { errorName: decoded.errorName, args };
  } catch {
    return null;
  }
}

function isUnreachable(error: BaseError): boolean {
  return Boolean(
    error.walk(
      (e) =>
        e instanceof HttpRequestError ||
        e instanceof TimeoutError ||
        e instanceof WebSocketRequestError ||
        (e instanceof Error &&
          /fetch failed|ECONNREFUSED|ENOTFOUND|ECONNRESET|socket hang up/.test(e.message)),
    ),
  );
}

/**
 * Turns whatever viem threw into one of the SDK's errors: a revert decoded against every protocol
 * error, or an unreachable node. Anything else is returned unchanged (never swallowed).
 */
export function toOpenLoRAError(error: unknown, context: { action: string; rpcUrl?: string }): unknown {
  if (error instanceof OpenLoRAError || !(error instanceof BaseError)) return error;
  if (isUnreachable(error)) {
    return new RpcUnreachableError(
      `cannot reach the chain${context.rpcUrl ? ` at ${context.rpcUrl}` : ""} (${context.action})`,
      { rpcUrl: context.rpcUrl, cause: error.shortMessage },
    );
  }
  const reverted = error.walk((e) => e instanceof ContractFunctionRevertedError) as
    | ContractFunctionRevertedError
    | undefined;
  const raw = reverted?.raw ?? findRevertData(error);
  if (raw) {
    const decoded = decodeRevert(raw);
    if (decoded) {
      const args = Object.entries(decoded.args)
        .map(([k, v]) => `${k}=${stringify(v)}`)
        .join(", ");
      return new ContractRevertError(
        `${context.action} reverted: ${decoded.errorName}(${args})`,
        decoded.errorName,
        decoded.args,
        { action: context.action, data: raw },
      );
    }
  }
  if (reverted) {
    const name = reverted.data?.errorName ?? (reverted.reason ? "Error" : "unknown");
    return new ContractRevertError(
      `${context.action} reverted: ${reverted.reason ?? reverted.signature ?? reverted.shortMessage}`,
      name,
      {},
      { action: context.action, data: raw },
    );
  }
  return error;
}

/** Revert data nested in an RPC error (`error.data` of an execution-reverted answer). */
function findRevertData(error: BaseError): Hex | undefined {
  let data: Hex | undefined;
  error.walk((e) => {
    const candidate = (e as { data?: unknown }).data;
    if (typeof candidate === "string" && /^0x[0-9a-fA-F]{8,}$/.test(candidate)) data = candidate as Hex;
    return false;
  });
  return data;
}
