// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

/// @notice A voucher signed by a channel's consumer (or its session key), as in
///         docs/protocol/typed-data.md: everything the consumer has ever authorised in the lane
///         `(channelId, modelId)`. The EIP-712 struct is exactly
///         `Voucher(uint256 channelId,uint256 modelId,uint256 cumulativeAmount,uint64 cumulativeCalls,bytes32 transcriptHash)`
///         under the PaymentChannels domain (`name = "OpenLoRA PaymentChannels"`, `version = "1"`).
/// @dev `signature` is a 65-byte ECDSA signature (r ‖ s ‖ v, low s) by the consumer or an authorised
///      session key, or, when the consumer is a contract, anything its ERC-1271 `isValidSignature`
///      accepts.
struct SignedVoucher {
    uint256 channelId;
    uint256 modelId;
    uint256 cumulativeAmount; // total ever authorised in the lane, in payment-asset units
    uint64 cumulativeCalls; // total calls ever authorised in the lane
    bytes32 transcriptHash; // t_n = keccak256(abi.encode(t_{n-1}, requestHash_n)), t_0 = 0
    bytes signature;
}

/// @notice What one settlement paid for one model: the sum over its lanes of the increase of each
///         voucher over the lane's previously paid voucher.
struct ModelTotal {
    uint256 modelId;
    uint256 calls;
    uint256 amount;
}

/// @notice A runner-signed receipt of one served call, and the leaf of a settled batch's Merkle tree.
///         The EIP-712 struct is exactly
///         `Receipt(bytes32 requestHash,uint256 modelId,bytes32 adapterHash,bytes32 outputHash,uint256 channelId,uint64 callIndex)`
///         under the Settlement domain (`name = "OpenLoRA Settlement"`, `version = "1"`).
struct Receipt {
    bytes32 requestHash; // keccak256(abi.encode(channelId, modelId, callIndex, keccak256(requestBody)))
    uint256 modelId;
    bytes32 adapterHash;
    bytes32 outputHash; // keccak256 of the canonical JSON output returned
    uint256 channelId;
    uint64 callIndex;
}

/// @notice A batch posted by a runner to {ISettlement.settle}.
/// @dev `totals` lists each model once, strictly ascending by model id; `vouchers` are grouped by
///      model in the same order (model ids non-decreasing), at most one group per model. A lane may
///      appear more than once only with strictly newer vouchers.
struct Batch {
    bytes32 receiptsRoot; // Merkle root of the receipts of the calls this batch pays for
    ModelTotal[] totals;
    SignedVoucher[] vouchers;
}
