/**
 * Signs receipts (docs/protocol/typed-data.md) for the runner on the native path: one per
 * paid call, so it must not cost more than the inference.
 */
import type { Address, Hex } from "viem";
import { privateKeyToAddress } from "viem/accounts";
import { type Receipt, settlementDomain } from "../../sdk/protocol/typedData";
import { bytesToHexFast, keccak256Bytes } from "../crypto/keccak";
import {
  type Field,
  recoverAddress,
  signDigest,
  structHash,
  TypedDataHasher,
  typeHash,
} from "./nativeEip712";

const RECEIPT_TYPEHASH = typeHash(
  "Receipt(bytes32 requestHash,uint256 modelId,bytes32 adapterHash,bytes32 outputHash,uint256 channelId,uint64 callIndex)",
);
const FIELDS = ["requestHash", "modelId", "adapterHash", "outputHash", "channelId", "callIndex"];

function receiptFields(receipt: Receipt): Field[] {
  return [
    { bytes32: receipt.requestHash },
    { uint: receipt.modelId, bits: 256 },
    { bytes32: receipt.adapterHash },
    { bytes32: receipt.outputHash },
    { uint: receipt.channelId, bits: 256 },
    { uint: receipt.callIndex, bits: 64 },
  ];
}

/** hashStruct(receipt), as sdk/protocol/merkle.ts's receiptStructHash, on native keccak. */
export function receiptStructHashNative(receipt: Receipt): Uint8Array {
  return structHash(RECEIPT_TYPEHASH, receiptFields(receipt), FIELDS);
}

/** A receipt's Merkle leaf from its hashStruct: keccak256(abi.encode(hashStruct)), one word. */
export function receiptLeafOfStructHash(hashed: Uint8Array): Hex {
  return bytesToHexFast(keccak256Bytes(hashed));
}

/** A receipt's signature, with its leaf in settlement batches (receiptLeaf of the SDK). */
export interface SignedReceipt {
  signature: Hex;
  leaf: Hex;
}

export class ReceiptSigner {
  private readonly hasher: TypedDataHasher;
  readonly address: Address;

  constructor(
    chainId: number,
    settlement: Address,
    private readonly privateKey: Hex,
  ) {
    this.hasher = new TypedDataHasher(settlementDomain(chainId, settlement));
    this.address = privateKeyToAddress(privateKey);
  }

  digest(receipt: Receipt): Uint8Array {
    return this.hasher.digest(RECEIPT_TYPEHASH, receiptFields(receipt), FIELDS);
  }

  sign(receipt: Receipt): Hex {
    return signDigest(this.digest(receipt), this.privateKey);
  }

  /** The signature and the receipt's Merkle leaf, from one hashStruct. */
  signReceipt(receipt: Receipt): SignedReceipt {
    const hashed = receiptStructHashNative(receipt);
    return {
      signature: signDigest(this.hasher.digestOf(hashed), this.privateKey),
      leaf: receiptLeafOfStructHash(hashed),
    };
  }

  recover(receipt: Receipt, signature: Hex): Address {
    return recoverAddress(this.digest(receipt), signature);
  }
}
