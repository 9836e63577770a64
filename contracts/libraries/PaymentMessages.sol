// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {Receipt} from "../types/PaymentTypes.sol";

/// @title PaymentMessages
/// @notice EIP-712 struct hashes of vouchers and receipts, the receipt Merkle leaf, the lane
///         transcript chain and the request hash, exactly as docs/protocol/typed-data.md defines them
///         and as the SDK computes them (sdk/protocol/typedData.ts, sdk/protocol/merkle.ts).
library PaymentMessages {
    /// @notice EIP-712 type hash of a voucher.
    bytes32 internal constant VOUCHER_TYPEHASH = keccak256(
        "Voucher(uint256 channelId,uint256 modelId,uint256 cumulativeAmount,uint64 cumulativeCalls,bytes32 transcriptHash)"
    );

    /// @notice EIP-712 type hash of a receipt.
    bytes32 internal constant RECEIPT_TYPEHASH = keccak256(
        "Receipt(bytes32 requestHash,uint256 modelId,bytes32 adapterHash,bytes32 outputHash,uint256 channelId,uint64 callIndex)"
    );

    /// @notice The EIP-712 struct hash of a voucher.
    function hashVoucher(
        uint256 channelId,
        uint256 modelId,
        uint256 cumulativeAmount,
        uint64 cumulativeCalls,
        bytes32 transcriptHash
    ) internal pure returns (bytes32 digest) {
        // Same as keccak256(abi.encode(VOUCHER_TYPEHASH, ...)), in scratch memory without allocating:
        // this runs once per lane in every settlement.
        bytes32 typeHash = VOUCHER_TYPEHASH;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, typeHash)
            mstore(add(ptr, 0x20), channelId)
            mstore(add(ptr, 0x40), modelId)
            mstore(add(ptr, 0x60), cumulativeAmount)
            mstore(add(ptr, 0x80), and(cumulativeCalls, 0xffffffffffffffff))
            mstore(add(ptr, 0xa0), transcriptHash)
            digest := keccak256(ptr, 0xc0)
        }
    }

    /// @notice The EIP-712 struct hash of a receipt.
    function hashReceipt(Receipt memory receipt) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(
                RECEIPT_TYPEHASH,
                receipt.requestHash,
                receipt.modelId,
                receipt.adapterHash,
                receipt.outputHash,
                receipt.channelId,
                receipt.callIndex
            )
        );
    }

    /// @notice The Merkle leaf of a receipt: keccak256(abi.encode(structHash)). Hashing the 32-byte
    ///         struct hash again keeps leaves distinct from 64-byte inner nodes.
    function receiptLeaf(bytes32 receiptStructHash) internal pure returns (bytes32) {
        return keccak256(abi.encode(receiptStructHash));
    }

    /// @notice The next transcript hash of a lane: keccak256(abi.encode(previous, request)), where
    ///         `request` is the request hash of the call paid for.
    function extendTranscript(bytes32 previous, bytes32 request) internal pure returns (bytes32) {
        return keccak256(abi.encode(previous, request));
    }

    /// @notice The hash of a request: keccak256(abi.encode(channelId, modelId, callIndex, bodyHash)),
    ///         where `bodyHash` is keccak256 of the request body bytes.
    function requestHash(uint256 channelId, uint256 modelId, uint64 callIndex, bytes32 bodyHash)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(channelId, modelId, callIndex, bodyHash));
    }
}
