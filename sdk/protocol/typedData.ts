/**
 * The EIP-712 messages of the protocol (docs/protocol/typed-data.md): vouchers signed by
 * consumers, receipts signed by runners. The contracts verify exactly these structs.
 */
import { type Address, encodeAbiParameters, type Hex, keccak256, toBytes } from "viem";

export const voucherTypes = {
  Voucher: [
    { name: "channelId", type: "uint256" },
    { name: "modelId", type: "uint256" },
    { name: "cumulativeAmount", type: "uint256" },
    { name: "cumulativeCalls", type: "uint64" },
    { name: "transcriptHash", type: "bytes32" },
  ],
} as const;

export const receiptTypes = {
  Receipt: [
    { name: "requestHash", type: "bytes32" },
    { name: "modelId", type: "uint256" },
    { name: "adapterHash", type: "bytes32" },
    { name: "outputHash", type: "bytes32" },
    { name: "channelId", type: "uint256" },
    { name: "callIndex", type: "uint64" },
  ],
} as const;

export interface Voucher {
  channelId: bigint;
  modelId: bigint;
  cumulativeAmount: bigint;
  cumulativeCalls: bigint;
  transcriptHash: Hex;
}

export interface Receipt {
  requestHash: Hex;
  modelId: bigint;
  adapterHash: Hex;
  outputHash: Hex;
  channelId: bigint;
  callIndex: bigint;
}

export function paymentChannelsDomain(chainId: number, verifyingContract: Address) {
  return { name: "OpenLoRA PaymentChannels", version: "1", chainId, verifyingContract } as const;
}

export function settlementDomain(chainId: number, verifyingContract: Address) {
  return { name: "OpenLoRA Settlement", version: "1", chainId, verifyingContract } as const;
}

export const EMPTY_TRANSCRIPT: Hex = `0x${"00".repeat(32)}`;

/** tₙ = keccak256(abi.encode(tₙ₋₁, requestHashₙ)). */
export function extendTranscript(previous: Hex, requestHash: Hex): Hex {
  return keccak256(encodeAbiParameters([{ type: "bytes32" }, { type: "bytes32" }], [previous, requestHash]));
}

/** requestHash = keccak256(abi.encode(channelId, modelId, callIndex, keccak256(body))). */
export function requestHash(
  channelId: bigint,
  modelId: bigint,
  callIndex: bigint,
  body: Uint8Array | string,
): Hex {
  const bodyHash = keccak256(typeof body === "string" ? toBytes(body) : body);
  return requestHashOfBody(channelId, modelId, callIndex, bodyHash);
}

/** requestHash from the body's keccak256 (what a 402 offers as `bodyHash`). */
export function requestHashOfBody(channelId: bigint, modelId: bigint, callIndex: bigint, bodyHash: Hex): Hex {
  return keccak256(
    encodeAbiParameters(
      [{ type: "uint256" }, { type: "uint256" }, { type: "uint64" }, { type: "bytes32" }],
      [channelId, modelId, callIndex, bodyHash],
    ),
  );
}
