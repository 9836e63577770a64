// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {ModelVault} from "../../contracts/ModelVault.sol";
import {PaymentMessages} from "../../contracts/libraries/PaymentMessages.sol";
import {ModelTotal, Receipt as CallReceipt, SignedVoucher} from "../../contracts/types/PaymentTypes.sol";
import {PaymentsFixture} from "./PaymentsFixture.sol";

/// @notice Deployment → attribution → reward, end to end: a model with two contributors and a
///         backer, a consumer paying per call through a session key, a runner settling twice with
///         receipts, everyone collecting what they earned, and the consumer taking back the rest.
contract PaymentsFlowTest is PaymentsFixture {
    Signer internal runner;
    Signer internal consumer;
    Signer internal agentKey;
    Signer internal creator;
    Signer internal dataContributor;
    address internal backer = makeAddr("backer");
    uint256 internal modelId;
    ModelVault internal vault;
    uint256 internal channelId;
    uint256 internal price;
    bytes32 internal transcript;

    function setUp() public override {
        super.setUp();
        runner = _signer("runner");
        consumer = _signer("consumer");
        agentKey = _signer("agent session key");
        creator = _signer("creator");
        dataContributor = _signer("data contributor");
        _registerRunner(runner.addr, RUNNER_FEE_BPS, MIN_BOND);
        // Register: creator 3 units, data contributor 1 unit (consenting), vault share 20%, price 1000.
        Signer[] memory signers = new Signer[](2);
        signers[0] = creator;
        signers[1] = dataContributor;
        uint256[] memory units = new uint256[](2);
        units[0] = 3;
        units[1] = 1;
        address vaultAddress;
        (modelId, vaultAddress) = _register(creator.addr, keccak256("spam filter v1"), signers, units);
        vault = ModelVault(vaultAddress);
        price = registry.getModelTerms(modelId).pricePerCall;
        // The consumer opens a channel with a session key for its agent.
        channelId = _open(consumer.addr, runner.addr, 10e6, agentKey.addr);
    }

    function test_Flow_CallsPayContributorsBackerRunnerAndProtocol() public {
        uint256 backed = _deposit(vault, backer, 500e6);

        // The agent pays 200 calls; the runner settles them with the root of their receipts.
        (CallReceipt[] memory receipts, bytes32[] memory leaves) = _serve(1, 200);
        uint256 sequence = _settleOne(_root(leaves), 200);
        // Settled usage and revenue wait in Settlement until anyone flushes the model.
        (uint256 pendingCalls,,) = settler.pendingOf(modelId);
        assertEq(pendingCalls, 200);
        assertEq(registry.getModel(modelId).totalCalls, 0);
        settler.flush(modelId);
        assertEq(registry.getModel(modelId).totalCalls, 200);
        assertEq(registry.getModel(modelId).totalRevenue, 200 * price);

        // Any served call can be proven against the stored root.
        assertTrue(settler.verifyReceipt(runner.addr, sequence, receipts[41], _proof(leaves, 41)));
        assertFalse(settler.verifyReceipt(runner.addr, sequence, receipts[42], _proof(leaves, 41)));

        // Revenue: 200_000 gross → 10_000 protocol, 20_000 runner, 34_000 vault, 136_000 holders.
        assertEq(settler.protocolFeesAccrued(), 10_000);
        assertEq(settler.runnerFeesAccrued(runner.addr), 20_000);
        assertEq(vault.totalRevenue(), 34_000);
        assertEq(shares.claimable(modelId, creator.addr), 102_000);
        assertEq(shares.claimable(modelId, dataContributor.addr), 34_000);

        // The backer's shares gain value as the vault's revenue unlocks, linearly.
        uint256 before = vault.previewRedeem(backed);
        vm.warp(block.timestamp + UNLOCK_PERIOD / 2);
        uint256 halfway = vault.previewRedeem(backed);
        vm.warp(block.timestamp + UNLOCK_PERIOD);
        assertGt(halfway, before);
        assertGt(vault.previewRedeem(backed), halfway);
        assertApproxEqAbs(vault.previewRedeem(backed), 500e6 + 34_000, 1);

        // The consumer closes; the runner settles the last 50 calls inside the challenge period.
        vm.prank(consumer.addr);
        uint256 closesAt = channels.requestClose(channelId);
        (, leaves) = _serve(201, 250);
        _settleOne(_root(leaves), 50);
        assertEq(settler.batchCount(runner.addr), 2);

        // Everyone collects; the first claim flushes the last 50 calls' revenue in. The view counts
        // the pending holders' part already, so it shows what the claims pay.
        assertEq(shares.claimable(modelId, creator.addr), 102_000 + 25_500, "claimable includes pending");
        assertEq(shares.claimable(modelId, dataContributor.addr), 34_000 + 8500, "claimable includes pending");
        vm.prank(creator.addr);
        assertEq(shares.claim(modelId), 102_000 + 25_500);
        vm.prank(dataContributor.addr);
        assertEq(shares.claim(modelId), 34_000 + 8500);
        vm.prank(runner.addr);
        assertEq(settler.claimRunnerFees(runner.addr), 25_000);
        assertEq(settler.withdrawProtocolFees(), 12_500);
        assertEq(usd.balanceOf(treasury), 12_500);
        vm.warp(closesAt);
        vm.prank(consumer.addr);
        assertEq(channels.withdraw(channelId), 10e6 - 250 * price);
        vm.prank(backer);
        vault.redeem(backed, backer, backer);

        // What the contracts hold is exactly what they still owe.
        address[] memory vaults = new address[](1);
        vaults[0] = address(vault);
        assertEq(_held(vaults), _owed(vaults));
        assertEq(channels.totalBalance(), 0);
        assertEq(settler.totalFeesOwed(), 0);
    }

    /// @dev Serves calls `first`..`last`: extends the lane's transcript, returns the receipts and leaves.
    function _serve(uint64 first, uint64 last)
        internal
        returns (CallReceipt[] memory receipts, bytes32[] memory leaves)
    {
        receipts = new CallReceipt[](last - first + 1);
        leaves = new bytes32[](receipts.length);
        for (uint64 i = first; i <= last; ++i) {
            bytes32 request = PaymentMessages.requestHash(channelId, modelId, i, keccak256(abi.encode("email", i)));
            transcript = PaymentMessages.extendTranscript(transcript, request);
            receipts[i - first] = CallReceipt({
                requestHash: request,
                modelId: modelId,
                adapterHash: keccak256("spam filter v1"),
                outputHash: keccak256(abi.encode("label", i % 2)),
                channelId: channelId,
                callIndex: i
            });
            leaves[i - first] = settler.receiptLeaf(receipts[i - first]);
        }
    }

    /// @dev Settles the lane up to everything served so far, the agent signing the voucher.
    function _settleOne(bytes32 root, uint256 calls) internal returns (uint256 sequence) {
        // casting to 'uint64' is safe because the test serves a few hundred calls.
        // forge-lint: disable-next-line(unsafe-typecast)
        uint64 total = uint64(channels.getLane(channelId, modelId).paidCalls + calls);
        SignedVoucher memory v = _signedVoucher(agentKey.key, channelId, modelId, total * price, total, transcript);
        ModelTotal[] memory totals = _total(modelId, calls, calls * price);
        vm.prank(runner.addr);
        sequence = settler.settle(_batch(root, totals, _one(v)));
    }

    function _signedVoucher(uint256 key, uint256 channel, uint256 model, uint256 amount, uint64 calls, bytes32 t)
        internal
        view
        returns (SignedVoucher memory)
    {
        return SignedVoucher({
            channelId: channel,
            modelId: model,
            cumulativeAmount: amount,
            cumulativeCalls: calls,
            transcriptHash: t,
            signature: _sign(key, channels.voucherDigest(channel, model, amount, calls, t))
        });
    }

    /// @dev The tree of sdk/protocol/merkle.ts: sorted pairs, an odd node promoted.
    function _root(bytes32[] memory leaves) internal pure returns (bytes32) {
        bytes32[] memory level = leaves;
        while (level.length > 1) {
            bytes32[] memory next = new bytes32[]((level.length + 1) / 2);
            for (uint256 i; i < level.length; i += 2) {
                next[i / 2] = i + 1 < level.length ? _pair(level[i], level[i + 1]) : level[i];
            }
            level = next;
        }
        return level[0];
    }

    function _proof(bytes32[] memory leaves, uint256 index) internal pure returns (bytes32[] memory proof) {
        bytes32[] memory buffer = new bytes32[](32);
        uint256 n;
        bytes32[] memory level = leaves;
        while (level.length > 1) {
            uint256 sibling = index ^ 1;
            if (sibling < level.length) buffer[n++] = level[sibling];
            bytes32[] memory next = new bytes32[]((level.length + 1) / 2);
            for (uint256 i; i < level.length; i += 2) {
                next[i / 2] = i + 1 < level.length ? _pair(level[i], level[i + 1]) : level[i];
            }
            level = next;
            index >>= 1;
        }
        proof = new bytes32[](n);
        for (uint256 i; i < n; ++i) {
            proof[i] = buffer[i];
        }
    }

    function _pair(bytes32 a, bytes32 b) internal pure returns (bytes32) {
        return a < b ? keccak256(abi.encode(a, b)) : keccak256(abi.encode(b, a));
    }
}
