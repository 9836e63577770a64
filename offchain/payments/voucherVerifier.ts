/**
 * Recovers the signer of a voucher (docs/protocol/typed-data.md) on the native path.
 */
import type { Address, Hex } from "viem";
import { paymentChannelsDomain, type Voucher } from "../../sdk/protocol/typedData";
import { type CryptoBackend, cryptoBackend } from "../crypto/nativeBackend";
import { recoverAddress, TypedDataHasher, typeHash } from "./nativeEip712";

const VOUCHER_TYPEHASH = typeHash(
  "Voucher(uint256 channelId,uint256 modelId,uint256 cumulativeAmount,uint64 cumulativeCalls,bytes32 transcriptHash)",
);
const FIELDS = ["channelId", "modelId", "cumulativeAmount", "cumulativeCalls", "transcriptHash"];

/** Verifies vouchers for one PaymentChannels deployment (chain id + contract address). */
export class VoucherVerifier {
  private readonly hasher: TypedDataHasher;

  constructor(
    chainId: number,
    paymentChannels: Address,
    private readonly backend: CryptoBackend = cryptoBackend,
  ) {
    this.hasher = new TypedDataHasher(paymentChannelsDomain(chainId, paymentChannels), backend);
  }

  /** The EIP-712 digest the consumer signed. */
  digest(voucher: Voucher): Uint8Array {
    return this.hasher.digest(
      VOUCHER_TYPEHASH,
      [
        { uint: voucher.channelId, bits: 256 },
        { uint: voucher.modelId, bits: 256 },
        { uint: voucher.cumulativeAmount, bits: 256 },
        { uint: voucher.cumulativeCalls, bits: 64 },
        { bytes32: voucher.transcriptHash },
      ],
      FIELDS,
    );
  }

  /** The address that signed `voucher`; throws SignatureError for a malformed signature. */
  recoverSigner(voucher: Voucher, signature: Hex): Address {
    return recoverAddress(this.digest(voucher), signature, this.backend);
  }
}
