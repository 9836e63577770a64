/**
 * Checking a runner's receipt: that the runner signed it (EIP-712 under the Settlement domain),
 * and that it is included in a batch the runner settled on-chain (a Merkle proof checked by
 * Settlement's `verifyReceipt` view, and recomputed locally against the stored root).
 */
import { type Address, type Hex, isAddressEqual, recoverTypedDataAddress } from "viem";
import { call, type OpenLoRAClient } from "../client";
import { InvalidArgumentError } from "../errors";
import { settlementAbi } from "../generated/abis";
import { receiptLeaf, verifyMerkleProof } from "../protocol/merkle";
import { type Receipt, receiptTypes, settlementDomain } from "../protocol/typedData";

/** Who signed a receipt under this deployment's Settlement domain (null if unrecoverable). */
export async function receiptSigner(
  client: OpenLoRAClient,
  receipt: Receipt,
  signature: Hex,
): Promise<Address | null> {
  return recoverTypedDataAddress({
    domain: settlementDomain(client.deployment.chainId, client.deployment.settlement),
    types: receiptTypes,
    primaryType: "Receipt",
    message: receipt,
    signature,
  }).catch(() => null);
}

/** Whether `runner` signed `receipt` for this chain and Settlement contract. */
export async function verifyReceiptSignature(
  client: OpenLoRAClient,
  receipt: Receipt,
  signature: Hex,
  runner: Address,
): Promise<boolean> {
  const recovered = await receiptSigner(client, receipt, signature);
  return recovered !== null && isAddressEqual(recovered, runner);
}

export interface InclusionProof {
  runner: Address;
  /** The runner's batch sequence number (from 1). */
  sequence: bigint;
  receipt: Receipt;
  /** Sibling hashes from the leaf up to the root. */
  proof: readonly Hex[];
}

export interface InclusionResult {
  /** Settlement.verifyReceipt answered true. */
  included: boolean;
  leaf: Hex;
  /** The root stored for (runner, sequence); zero if no such batch. */
  root: Hex;
  /** The proof recomputed locally reaches the stored root (must agree with `included`). */
  locallyVerified: boolean;
  /** When a signature was given: whether the runner signed this receipt. */
  signatureValid?: boolean;
}

/** Asks Settlement whether the receipt is in the runner's settled batch, and checks it locally too. */
export async function verifyReceiptInclusion(
  client: OpenLoRAClient,
  proof: InclusionProof,
  signature?: Hex,
): Promise<InclusionResult> {
  if (proof.sequence <= 0n) throw new InvalidArgumentError("batch sequence numbers start at 1");
  const settlement = { address: client.deployment.settlement, abi: settlementAbi } as const;
  const [included, root] = await call(client, "Settlement.verifyReceipt", () =>
    Promise.all([
      client.publicClient.readContract({
        ...settlement,
        functionName: "verifyReceipt",
        args: [proof.runner, proof.sequence, proof.receipt, [...proof.proof]],
      }),
      client.publicClient.readContract({
        ...settlement,
        functionName: "batchRoot",
        args: [proof.runner, proof.sequence],
      }),
    ]),
  );
  const leaf = receiptLeaf(proof.receipt);
  const result: InclusionResult = {
    included,
    leaf,
    root,
    locallyVerified: BigInt(root) !== 0n && verifyMerkleProof(leaf, proof.proof, root),
  };
  if (signature !== undefined) {
    result.signatureValid = await verifyReceiptSignature(client, proof.receipt, signature, proof.runner);
  }
  return result;
}

/** Number of batches a runner has settled, and its cumulative settled amount. */
export async function runnerBatches(
  client: OpenLoRAClient,
  runner: Address,
): Promise<{ batchCount: bigint; settledAmount: bigint }> {
  const settlement = { address: client.deployment.settlement, abi: settlementAbi } as const;
  const [batchCount, settledAmount] = await call(client, "Settlement.batchCount", () =>
    Promise.all([
      client.publicClient.readContract({ ...settlement, functionName: "batchCount", args: [runner] }),
      client.publicClient.readContract({ ...settlement, functionName: "settledAmount", args: [runner] }),
    ]),
  );
  return { batchCount, settledAmount };
}

/** Parses a proof as the runner serves it (GET /v2/receipts/{requestHash}/proof): decimal strings for integers. */
export function inclusionProofFromJson(value: unknown): InclusionProof {
  const v = (value ?? {}) as Record<string, unknown>;
  const r = (v.receipt ?? {}) as Record<string, unknown>;
  const fail = (field: string): never => {
    throw new InvalidArgumentError(`receipt proof: ${field} is missing or malformed`, { field });
  };
  const hex32 = (x: unknown, field: string): Hex =>
    typeof x === "string" && /^0x[0-9a-fA-F]{64}$/.test(x) ? (x as Hex) : fail(field);
  const uint = (x: unknown, field: string): bigint => {
    if (typeof x === "bigint" && x >= 0n) return x;
    if (typeof x === "number" && Number.isSafeInteger(x) && x >= 0) return BigInt(x);
    if (typeof x === "string" && /^\d+$/.test(x)) return BigInt(x);
    return fail(field);
  };
  const runner =
    typeof v.runner === "string" && /^0x[0-9a-fA-F]{40}$/.test(v.runner)
      ? (v.runner as Address)
      : fail("runner");
  if (!Array.isArray(v.proof)) fail("proof");
  return {
    runner,
    sequence: uint(v.sequence, "sequence"),
    proof: (v.proof as unknown[]).map((p, i) => hex32(p, `proof[${i}]`)),
    receipt: {
      requestHash: hex32(r.requestHash, "receipt.requestHash"),
      modelId: uint(r.modelId, "receipt.modelId"),
      adapterHash: hex32(r.adapterHash, "receipt.adapterHash"),
      outputHash: hex32(r.outputHash, "receipt.outputHash"),
      channelId: uint(r.channelId, "receipt.channelId"),
      callIndex: uint(r.callIndex, "receipt.callIndex"),
    },
  };
}
