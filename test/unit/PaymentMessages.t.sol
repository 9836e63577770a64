// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {PaymentMessages} from "../../contracts/libraries/PaymentMessages.sol";
import {Receipt as CallReceipt} from "../../contracts/types/PaymentTypes.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {Test} from "forge-std/Test.sol";

/// @notice The contracts hash vouchers, receipts, requests, transcripts and receipt trees exactly as
///         the SDK does (sdk/protocol/typedData.ts, sdk/protocol/merkle.ts). The expected values
///         were computed with viem from those modules, for chain 31337, PaymentChannels at
///         0x1111…1111 and Settlement at 0x2222…2222.
contract PaymentMessagesTest is Test {
    address internal constant CHANNELS = 0x1111111111111111111111111111111111111111;
    address internal constant SETTLEMENT = 0x2222222222222222222222222222222222222222;
    bytes32 internal constant REQUEST = 0xd6f26274f7b170424d573ccd874aa694ff4d95203e0b0e999304aec7bc9b8243;
    bytes32 internal constant TRANSCRIPT = 0xdf74cd98d9c3ed4a1e78b99da71ac0f2ccec06d585eba60a61cb65283b7ec4db;

    function _domain(string memory name, address verifyingContract) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256(bytes(name)),
                keccak256("1"),
                31_337,
                verifyingContract
            )
        );
    }

    function _receipt(uint64 callIndex) internal pure returns (CallReceipt memory) {
        return CallReceipt({
            requestHash: REQUEST,
            modelId: 3,
            adapterHash: keccak256("adapter"),
            outputHash: keccak256("output"),
            channelId: 7,
            callIndex: callIndex
        });
    }

    function test_RequestHashAndTranscript_MatchSdk() public pure {
        bytes32 body = keccak256('{"text":"hello"}');
        assertEq(body, 0x63c0ff7bbe8ff2433988310aa2e2dc7bdb8bf25aa0e519c37f84fdaa8783e63e);
        assertEq(PaymentMessages.requestHash(7, 3, 1, body), REQUEST);
        assertEq(PaymentMessages.extendTranscript(bytes32(0), REQUEST), TRANSCRIPT);
    }

    function test_Voucher_MatchesSdk() public pure {
        bytes32 structHash = PaymentMessages.hashVoucher(7, 3, 1500, 1, TRANSCRIPT);
        assertEq(structHash, 0x4286833e95677bc337989397733e142885635b3e2f6f1a7855fcdf4081bd839a);
        assertEq(
            keccak256(abi.encodePacked(hex"1901", _domain("OpenLoRA PaymentChannels", CHANNELS), structHash)),
            0xafe0d5ecfb181f05ef5b78a0dac5dacb710ce2a5bc5396a1f8f8d8c4088662f0
        );
    }

    function testFuzz_HashVoucher_EqualsAbiEncode(
        uint256 channelId,
        uint256 modelId,
        uint256 amount,
        uint64 calls,
        bytes32 transcript
    ) public pure {
        assertEq(
            PaymentMessages.hashVoucher(channelId, modelId, amount, calls, transcript),
            keccak256(abi.encode(PaymentMessages.VOUCHER_TYPEHASH, channelId, modelId, amount, calls, transcript))
        );
    }

    function test_Receipt_MatchesSdk() public pure {
        bytes32 structHash = PaymentMessages.hashReceipt(_receipt(1));
        assertEq(structHash, 0xe1a1ba1a3e30d5d87b11163659eff5c93a6fa324d202065d76268e0c8aeabdca);
        assertEq(
            keccak256(abi.encodePacked(hex"1901", _domain("OpenLoRA Settlement", SETTLEMENT), structHash)),
            0x11b6b432ae4806252bc40420bf3ba0b3284468aa003361827e698295a691b9b8
        );
        assertEq(
            PaymentMessages.receiptLeaf(structHash), 0x9d773c9ad9f9baed20c37cacd78590d429d7ce9ba87e1796717e14d77df7d832
        );
    }

    function test_ReceiptTree_SdkProofsVerifyOnChain() public pure {
        bytes32 root = 0xdf83ed556e28f232365186e0144ae613bc396ef753cc730a4de0ef3306a96638;
        bytes32[] memory proof0 = new bytes32[](2);
        proof0[0] = 0xdf21a3476cb39bf776631b1bbd7ad7c53a0ea87782ede60693a89843c666a3b0;
        proof0[1] = 0x1346137f856d186110ec35db7d0bf8cdfe66fb11f215b86bb4bf8c4940e91670;
        assertTrue(
            MerkleProof.verify(proof0, root, PaymentMessages.receiptLeaf(PaymentMessages.hashReceipt(_receipt(1))))
        );
        // The odd third leaf was promoted: its proof is the hash of the first two.
        bytes32[] memory proof2 = new bytes32[](1);
        proof2[0] = 0x5165515ee71abb49a1c058e14f65e8d30110ea814951526a7ce33d2cad05d23f;
        assertTrue(
            MerkleProof.verify(proof2, root, PaymentMessages.receiptLeaf(PaymentMessages.hashReceipt(_receipt(3))))
        );
        assertFalse(
            MerkleProof.verify(proof2, root, PaymentMessages.receiptLeaf(PaymentMessages.hashReceipt(_receipt(2))))
        );
    }
}
