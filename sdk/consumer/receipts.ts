/**
 * Checking a runner's receipt: that the runner signed it (EIP-712 under the Settlement domain,
 * accepted exactly as Settlement's SignatureChecker accepts it), that it is included in a batch
 * the runner settled on-chain (a Merkle proof checked by Settlement's `verifyReceipt` view, and
 * recomputed locally against the stored root), which of its fields differ from another copy, and
 * what the chain settled for its call.
 */
import {
  type Address,
  encodeFunctionData,
  type Hex,
  hashTypedData,
  isAddressEqual,
  pad,
  recoverAddress,
  recoverTypedDataAddress,
  size,
  sliceHex,
} from "viem";
import { call, type OpenLoRAClient } from "../client";
import { InvalidArgumentError } from "../errors";
import { paymentChannelsAbi, settlementAbi } from "../generated/abis";
import { receiptLeaf, verifyMerkleProof } from "../protocol/merkle";
import { type Receipt, receiptTypes, settlementDomain } from "../protocol/typedData";
import { startBlock } from "./channels";

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

/** Whether `runner` signed `receipt` for this chain and Settlement contract, as Settlement would accept it. */
export async function verifyReceiptSignature(
  client: OpenLoRAClient,
  receipt: Receipt,
  signature: Hex,
  runner: Address,
): Promise<boolean> {
  return (await checkReceiptSignature(client, receipt, signature, runner)).valid;
}

/** The outcome of a signature check; `reason` says why one is refused. */
export type SignatureCheck = { valid: true } | { valid: false; reason: string };

/** secp256k1n / 2: OpenZeppelin's ECDSA refuses an `s` above it (EIP-2 malleability). */
const HALF_ORDER = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;
const ERC1271_MAGIC = pad("0x1626ba7e", { dir: "right", size: 32 });
const erc1271Abi = [
  {
    type: "function",
    name: "isValidSignature",
    stateMutability: "view",
    inputs: [
      { name: "hash", type: "bytes32" },
      { name: "signature", type: "bytes" },
    ],
    outputs: [{ name: "", type: "bytes4" }],
  },
] as const;

/**
 * Checks a receipt signature exactly as Settlement's OpenZeppelin `SignatureChecker` does: a runner
 * with code answers through ERC-1271 (`isValidSignature` must return the magic value in a 32-byte
 * word); any other runner must be the ECDSA signer of a 65-byte r ‖ s ‖ v signature with v of 27
 * or 28 and a low s. A signature the contract would refuse is refused here, with the reason.
 */
export async function checkReceiptSignature(
  client: OpenLoRAClient,
  receipt: Receipt,
  signature: Hex,
  runner: Address,
): Promise<SignatureCheck> {
  const digest = hashTypedData({
    domain: settlementDomain(client.deployment.chainId, client.deployment.settlement),
    types: receiptTypes,
    primaryType: "Receipt",
    message: receipt,
  });
  const code = await call(client, "getCode(runner)", () => client.publicClient.getCode({ address: runner }));
  if (code !== undefined && code !== "0x") return erc1271Check(client, runner, digest, signature);
  const shape = ecdsaShapeProblem(signature);
  if (shape) return { valid: false, reason: shape };
  const recovered = await recoverAddress({ hash: digest, signature }).catch(() => null);
  if (recovered === null) return { valid: false, reason: "no signer can be recovered from it" };
  if (!isAddressEqual(recovered, runner))
    return { valid: false, reason: `it is signed by ${recovered}, not by the runner ${runner}` };
  return { valid: true };
}

/** Why OpenZeppelin's `ECDSA.tryRecover(hash, bytes)` would refuse this signature, or null. */
export function ecdsaShapeProblem(signature: Hex): string | null {
  if (!/^0x[0-9a-fA-F]*$/.test(signature) || signature.length % 2 !== 0) return "it is not hex bytes";
  if (size(signature) !== 65) return `it is ${size(signature)} bytes long, not 65 (r, s, v)`;
  const s = BigInt(sliceHex(signature, 32, 64));
  const v = Number.parseInt(signature.slice(130, 132), 16);
  if (v !== 27 && v !== 28) return `its v is ${v}, not 27 or 28`;
  if (s > HALF_ORDER) return "its s is in the upper half of the curve order (a malleable signature)";
  return null;
}

async function erc1271Check(
  client: OpenLoRAClient,
  runner: Address,
  digest: Hex,
  signature: Hex,
): Promise<SignatureCheck> {
  const refused = { valid: false, reason: `the runner's contract (ERC-1271) does not accept it` } as const;
  const { data } = await client.publicClient
    .call({
      to: runner,
      data: encodeFunctionData({
        abi: erc1271Abi,
        functionName: "isValidSignature",
        args: [digest, signature],
      }),
    })
    .catch(() => ({ data: undefined }));
  if (data === undefined || size(data) < 32) return refused;
  return sliceHex(data, 0, 32).toLowerCase() === ERC1271_MAGIC ? { valid: true } : refused;
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

export const RECEIPT_FIELDS = [
  "requestHash",
  "modelId",
  "adapterHash",
  "outputHash",
  "channelId",
  "callIndex",
] as const satisfies readonly (keyof Receipt)[];

export interface ReceiptDifference {
  field: (typeof RECEIPT_FIELDS)[number];
  yours: Hex | bigint;
  theirs: Hex | bigint;
}

/** The fields in which two copies of a receipt differ (hashes compared without regard to case). */
export function receiptDifferences(yours: Receipt, theirs: Receipt): ReceiptDifference[] {
  return RECEIPT_FIELDS.filter((field) => {
    const [a, b] = [yours[field], theirs[field]];
    return typeof a === "string" ? a.toLowerCase() !== String(b).toLowerCase() : a !== b;
  }).map((field) => ({ field, yours: yours[field], theirs: theirs[field] }));
}

/**
 * The settled voucher of a lane that paid for call `callIndex`, from its `VoucherRedeemed` log:
 * it paid `amount` for calls `firstCall`..`lastCall` and left the lane at `cumulativeAmount`.
 */
export interface SettledVoucher {
  firstCall: bigint;
  lastCall: bigint;
  amount: bigint;
  cumulativeAmount: bigint;
  transcriptHash: Hex;
}

/** What the chain settled for call `callIndex` of the lane (channel, model) paid to `runner`; null if nothing yet. */
export async function settledVoucherOf(
  client: OpenLoRAClient,
  lane: { runner: Address; channelId: bigint; modelId: bigint },
  callIndex: bigint,
): Promise<SettledVoucher | null> {
  const logs = await call(client, "PaymentChannels VoucherRedeemed logs", () =>
    client.publicClient.getContractEvents({
      address: client.deployment.paymentChannels,
      abi: paymentChannelsAbi,
      eventName: "VoucherRedeemed",
      args: { channelId: lane.channelId, modelId: lane.modelId, runner: lane.runner },
      fromBlock: startBlock(client),
      toBlock: "latest",
    }),
  );
  for (const { args } of logs) {
    const lastCall = BigInt(args.cumulativeCalls as bigint);
    const firstCall = lastCall - (args.calls as bigint) + 1n;
    if (callIndex >= firstCall && callIndex <= lastCall) {
      return {
        firstCall,
        lastCall,
        amount: args.amount as bigint,
        cumulativeAmount: args.cumulativeAmount as bigint,
        transcriptHash: args.transcriptHash as Hex,
      };
    }
  }
  return null;
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

/** Readers of JSON fields (integers as numbers or decimal strings) that name the field they refuse. */
function jsonReaders(what: string) {
  const fail = (field: string): never => {
    throw new InvalidArgumentError(`${what}: ${field} is missing or malformed`, { field });
  };
  const hex32 = (x: unknown, field: string): Hex =>
    typeof x === "string" && /^0x[0-9a-fA-F]{64}$/.test(x) ? (x as Hex) : fail(field);
  const uint = (x: unknown, field: string): bigint => {
    if (typeof x === "bigint" && x >= 0n) return x;
    if (typeof x === "number" && Number.isSafeInteger(x) && x >= 0) return BigInt(x);
    if (typeof x === "string" && /^\d+$/.test(x)) return BigInt(x);
    return fail(field);
  };
  const address = (x: unknown, field: string): Address =>
    typeof x === "string" && /^0x[0-9a-fA-F]{40}$/.test(x) ? (x as Address) : fail(field);
  const receipt = (value: unknown): Receipt => {
    const r = (value ?? {}) as Record<string, unknown>;
    return {
      requestHash: hex32(r.requestHash, "receipt.requestHash"),
      modelId: uint(r.modelId, "receipt.modelId"),
      adapterHash: hex32(r.adapterHash, "receipt.adapterHash"),
      outputHash: hex32(r.outputHash, "receipt.outputHash"),
      channelId: uint(r.channelId, "receipt.channelId"),
      callIndex: uint(r.callIndex, "receipt.callIndex"),
    };
  };
  return { fail, hex32, uint, address, receipt };
}

/** Parses a proof as the runner serves it (GET /v2/receipts/{requestHash}/proof): decimal strings for integers. */
export function inclusionProofFromJson(value: unknown): InclusionProof {
  const v = (value ?? {}) as Record<string, unknown>;
  const { fail, hex32, uint, address, receipt } = jsonReaders("receipt proof");
  const runner = address(v.runner, "runner");
  if (!Array.isArray(v.proof)) fail("proof");
  return {
    runner,
    sequence: uint(v.sequence, "sequence"),
    proof: (v.proof as unknown[]).map((p, i) => hex32(p, `proof[${i}]`)),
    receipt: receipt(v.receipt),
  };
}

/** A receipt as a consumer keeps it (`openlora call --receipt-out`, or one line of `--out`). */
export interface SavedReceipt {
  runner: Address;
  receipt: Receipt;
  receiptSignature: Hex;
  /** What the call cost (payment-asset base units). */
  amount?: bigint;
  /** The consumer's voucher that paid for the call. */
  voucher?: { cumulativeAmount: bigint; cumulativeCalls: bigint; transcriptHash: Hex };
  /** The request body sent, from which `receipt.requestHash` is derived. */
  request?: string;
  /** The infer URL called. */
  url?: string;
}

/** Parses a saved receipt; fields the runner does not sign (amount, voucher, request) are optional. */
export function savedReceiptFromJson(value: unknown): SavedReceipt {
  const v = (value ?? {}) as Record<string, unknown>;
  const { fail, hex32, uint, address, receipt } = jsonReaders("saved receipt");
  const signature =
    typeof v.receiptSignature === "string" && /^0x([0-9a-fA-F]{2})*$/.test(v.receiptSignature)
      ? (v.receiptSignature as Hex)
      : fail("receiptSignature");
  const saved: SavedReceipt = {
    runner: address(v.runner, "runner"),
    receipt: receipt(v.receipt),
    receiptSignature: signature,
  };
  if (v.amount !== undefined) saved.amount = uint(v.amount, "amount");
  if (v.voucher !== undefined) {
    const w = (v.voucher ?? {}) as Record<string, unknown>;
    saved.voucher = {
      cumulativeAmount: uint(w.cumulativeAmount, "voucher.cumulativeAmount"),
      cumulativeCalls: uint(w.cumulativeCalls, "voucher.cumulativeCalls"),
      transcriptHash: hex32(w.transcriptHash, "voucher.transcriptHash"),
    };
  }
  if (typeof v.request === "string") saved.request = v.request;
  if (typeof v.url === "string") saved.url = v.url;
  return saved;
}
