// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {ModelVault} from "../../contracts/ModelVault.sol";
import {Settlement} from "../../contracts/Settlement.sol";
import {ICoTrainingShares} from "../../contracts/interfaces/ICoTrainingShares.sol";
import {IModelRegistry} from "../../contracts/interfaces/IModelRegistry.sol";
import {IPaymentChannels} from "../../contracts/interfaces/IPaymentChannels.sol";
import {IRunnerRegistry} from "../../contracts/interfaces/IRunnerRegistry.sol";
import {ISettlement} from "../../contracts/interfaces/ISettlement.sol";
import {PaymentMessages} from "../../contracts/libraries/PaymentMessages.sol";
import {Batch, ModelTotal, Receipt as CallReceipt, SignedVoucher} from "../../contracts/types/PaymentTypes.sol";
import {PaymentsFixture} from "../integration/PaymentsFixture.sol";
import {MockERC1271Wallet} from "../mocks/MockERC1271Wallet.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {PausableUpgradeable} from "@openzeppelin/contracts-upgradeable/utils/PausableUpgradeable.sol";
import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

contract SettlementTest is PaymentsFixture {
    Signer internal runnerKey;
    address internal runner;
    Signer internal consumer;
    address internal creator = makeAddr("creator");
    Signer internal alice;
    Signer internal bob;
    address internal reporter = makeAddr("reporter");
    address internal backer = makeAddr("backer");
    uint256 internal constant DEPOSIT = 1000e6;
    uint256 internal modelA; // creator 1 unit, alice 3 units (sorted), vault share 20%
    uint256 internal modelB; // creator only
    ModelVault internal vaultA;
    ModelVault internal vaultB;
    uint256 internal channelId;

    function setUp() public override {
        super.setUp();
        runnerKey = _signer("runner");
        runner = runnerKey.addr;
        consumer = _signer("consumer");
        alice = _signer("alice");
        bob = _signer("bob");
        _registerRunner(runner, RUNNER_FEE_BPS, MIN_BOND);

        Signer[] memory signers = new Signer[](2);
        signers[0] = Signer({addr: creator, key: 0});
        signers[1] = alice;
        uint256[] memory units = new uint256[](2);
        units[0] = 1;
        units[1] = 3;
        address vault;
        (modelA, vault) = _register(creator, keccak256("adapter A"), signers, units);
        vaultA = ModelVault(vault);
        modelB = _registerSolo(creator, keccak256("adapter B"), 10);
        vaultB = ModelVault(registry.getModelTerms(modelB).vault);
        channelId = _open(consumer.addr, runner, DEPOSIT, address(0));
        // Both vaults are backed, so that they take their share (an empty vault takes none).
        _deposit(vaultA, backer, 1e6);
        _deposit(vaultB, backer, 1e6);
    }

    /// @dev Settles, then flushes the batch's models, so that vaults, holders and the registry show it.
    function _settleAs(address who, Batch memory batch) internal returns (uint256 sequence) {
        vm.prank(who);
        sequence = settler.settle(batch);
        uint256[] memory ids = new uint256[](batch.totals.length);
        for (uint256 i; i < ids.length; ++i) {
            ids[i] = batch.totals[i].modelId;
        }
        settler.flushMany(ids);
    }

    function _expectSettleRevert(Batch memory batch, bytes memory err) internal {
        vm.expectRevert(err);
        vm.prank(runner);
        settler.settle(batch);
    }

    function _vaults() internal view returns (address[] memory list) {
        list = new address[](2);
        list[0] = address(vaultA);
        list[1] = address(vaultB);
    }

    // ------------------------------------------------------------------ initialize

    function test_Initialize_SetsRolesAndModules() public view {
        assertTrue(settler.hasRole(settler.DEFAULT_ADMIN_ROLE(), admin));
        assertTrue(settler.hasRole(settler.UPGRADER_ROLE(), admin));
        assertTrue(settler.hasRole(settler.PAUSER_ROLE(), admin));
        assertTrue(settler.hasRole(settler.FEE_SETTER_ROLE(), admin));
        assertEq(address(settler.asset()), address(usd));
        assertEq(address(settler.paymentChannels()), address(channels));
        assertEq(address(settler.runnerRegistry()), address(runners));
        assertEq(address(settler.modelRegistry()), address(registry));
        assertEq(address(settler.shares()), address(shares));
        assertEq(settler.treasury(), treasury);
        assertEq(settler.protocolFeeBps(), PROTOCOL_FEE_BPS);
        assertEq(settler.RECEIPT_TYPEHASH(), PaymentMessages.RECEIPT_TYPEHASH);
        bytes32 domain = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("OpenLoRA Settlement"),
                keccak256("1"),
                block.chainid,
                address(settler)
            )
        );
        assertEq(settler.DOMAIN_SEPARATOR(), domain);
    }

    function _modules() internal view returns (Settlement.Modules memory) {
        return Settlement.Modules({
            asset: IERC20(address(usd)),
            paymentChannels: channels,
            runnerRegistry: runners,
            modelRegistry: registry,
            shares: shares
        });
    }

    function test_Initialize_RevertWhen_CalledOnImplementation() public {
        Settlement impl = new Settlement(_modules());
        Settlement.Modules memory modules;
        vm.expectRevert(Initializable.InvalidInitialization.selector);
        impl.initialize(admin, modules, treasury, 0);
    }

    function test_Initialize_RevertWhen_ModulesDifferFromImplementation() public {
        address impl = address(new Settlement(_modules()));
        Settlement.Modules memory other = _modules();
        other.shares = ICoTrainingShares(makeAddr("other shares"));
        vm.expectRevert(ISettlement.Settlement_ModulesMismatch.selector);
        new ERC1967Proxy(impl, abi.encodeCall(Settlement.initialize, (admin, other, treasury, 0)));
        // The implementation's modules are what the views report.
        assertEq(address(settler.shares()), address(shares));
        assertEq(address(settler.asset()), address(usd));
    }

    function test_Initialize_RevertWhen_ZeroModuleOrFeeTooHigh() public {
        Settlement.Modules memory modules = _modules();
        address impl = address(new Settlement(modules));
        Settlement.Modules memory missing = modules;
        missing.runnerRegistry = IRunnerRegistry(address(0));
        vm.expectRevert(ISettlement.Settlement_ZeroAddress.selector);
        new Settlement(missing);
        vm.expectRevert(ISettlement.Settlement_ZeroAddress.selector);
        new ERC1967Proxy(impl, abi.encodeCall(Settlement.initialize, (admin, missing, treasury, 0)));
        missing.runnerRegistry = runners;
        vm.expectRevert(ISettlement.Settlement_ZeroAddress.selector);
        new ERC1967Proxy(impl, abi.encodeCall(Settlement.initialize, (admin, missing, address(0), 0)));
        vm.expectRevert(abi.encodeWithSelector(ISettlement.Settlement_ProtocolFeeTooHigh.selector, 2001, 2000));
        new ERC1967Proxy(impl, abi.encodeCall(Settlement.initialize, (admin, missing, treasury, 2001)));
    }

    // ------------------------------------------------------------------ settle

    function test_Settle_PaysRecordsStoresRootAndSplits() public {
        uint256 amount = 100e6;
        SignedVoucher memory v = _voucher(consumer.key, channelId, modelA, amount, 40);
        Batch memory batch = _lanebatch(v, 0, 0);

        uint256 protocolFee = amount * PROTOCOL_FEE_BPS / 10_000; // 5e6
        uint256 runnerFee = amount * RUNNER_FEE_BPS / 10_000; // 10e6
        uint256 toVault = (amount - protocolFee - runnerFee) * 2000 / 10_000; // 17e6
        uint256 toHolders = amount - protocolFee - runnerFee - toVault; // 68e6

        vm.expectEmit(address(settler));
        emit ISettlement.RevenuePending(modelA, runner, 40, amount, toVault + toHolders);
        vm.expectEmit(address(settler));
        emit ISettlement.BatchSettled(runner, 1, batch.receiptsRoot, 1, 40, amount, amount);
        vm.prank(runner);
        uint256 sequence = settler.settle(batch);
        (uint256 pendingCalls, uint256 pendingRevenue, uint256 pendingNet) = settler.pendingOf(modelA);
        assertEq(pendingCalls, 40);
        assertEq(pendingRevenue, amount);
        assertEq(pendingNet, toVault + toHolders);
        assertEq(vaultA.totalRevenue(), 0, "nothing reaches the vault before a flush");
        assertEq(_held(_vaults()), _owed(_vaults()));
        vm.expectEmit(address(settler));
        emit ISettlement.RevenueFlushed(modelA, 40, amount, toVault, toHolders);
        settler.flush(modelA);
        (pendingCalls, pendingRevenue, pendingNet) = settler.pendingOf(modelA);
        assertEq(pendingCalls + pendingRevenue + pendingNet, 0);

        assertEq(sequence, 1);
        assertEq(settler.batchCount(runner), 1);
        assertEq(settler.batchRoot(runner, 1), batch.receiptsRoot);
        assertEq(settler.settledAmount(runner), amount);
        // Usage in the registry.
        IModelRegistry.Model memory m = registry.getModel(modelA);
        assertEq(m.totalCalls, 40);
        assertEq(m.totalRevenue, amount);
        // Fees accrue here.
        assertEq(settler.protocolFeesAccrued(), protocolFee);
        assertEq(settler.runnerFeesAccrued(runner), runnerFee);
        assertEq(settler.totalFeesOwed(), protocolFee + runnerFee);
        // PaymentChannels keeps the fees for Settlement, which pays them out from there.
        assertEq(usd.balanceOf(address(channels)) - channels.totalBalance(), protocolFee + runnerFee);
        // The vault's share arrives locked, to unlock linearly.
        assertEq(vaultA.totalRevenue(), toVault);
        assertEq(vaultA.lockedRevenue(), toVault);
        assertEq(usd.balanceOf(address(vaultA)), 1e6 + toVault);
        // Holders by units: alice 3/4, creator 1/4.
        assertEq(shares.totalCredited(modelA), toHolders);
        assertEq(shares.claimable(modelA, alice.addr), toHolders * 3 / 4);
        assertEq(shares.claimable(modelA, creator), toHolders / 4);
        // The channel paid exactly the voucher.
        assertEq(channels.balanceOf(channelId), DEPOSIT - amount);
        assertEq(_held(_vaults()), _owed(_vaults()));
    }

    function test_Settle_NumbersBatchesPerRunnerAndPaysOnlyIncreases() public {
        _settleAs(runner, _lanebatch(_voucher(consumer.key, channelId, modelA, 10e6, 10), 0, 0));
        uint256 sequence = _settleAs(runner, _lanebatch(_voucher(consumer.key, channelId, modelA, 25e6, 30), 10e6, 10));
        assertEq(sequence, 2);
        assertEq(registry.getModel(modelA).totalCalls, 30);
        assertEq(registry.getModel(modelA).totalRevenue, 25e6);
        assertEq(settler.settledAmount(runner), 25e6);
        assertEq(channels.balanceOf(channelId), DEPOSIT - 25e6);

        // Another runner's numbering starts at 1.
        Signer memory other = _signer("other runner");
        _registerRunner(other.addr, 0, MIN_BOND);
        uint256 otherChannel = _open(consumer.addr, other.addr, DEPOSIT, address(0));
        assertEq(_settleAs(other.addr, _lanebatch(_voucher(consumer.key, otherChannel, modelB, 1e6, 1), 0, 0)), 1);
    }

    function test_Settle_SplitsManyModelsAndLanes() public {
        uint256 second = _open(consumer.addr, runner, DEPOSIT, address(0));
        SignedVoucher[] memory vouchers = new SignedVoucher[](3);
        vouchers[0] = _voucher(consumer.key, channelId, modelA, 10e6, 10);
        vouchers[1] = _voucher(consumer.key, second, modelA, 20e6, 5);
        vouchers[2] = _voucher(consumer.key, second, modelB, 7e6, 7);
        ModelTotal[] memory totals = new ModelTotal[](2);
        totals[0] = ModelTotal({modelId: modelA, calls: 15, amount: 30e6});
        totals[1] = ModelTotal({modelId: modelB, calls: 7, amount: 7e6});
        _settleAs(runner, _batch(keccak256("root"), totals, vouchers));
        assertEq(registry.getModel(modelA).totalCalls, 15);
        assertEq(registry.getModel(modelB).totalCalls, 7);
        assertEq(registry.getModel(modelB).totalRevenue, 7e6);
        assertEq(shares.totalCredited(modelB), 7e6 - 7e6 * 1500 / 10_000 - (7e6 - 7e6 * 1500 / 10_000) * 2000 / 10_000);
        assertEq(settler.protocolFeesAccrued(), 37e6 * uint256(PROTOCOL_FEE_BPS) / 10_000);
        assertEq(_held(_vaults()), _owed(_vaults()));
    }

    function test_Settle_RevertWhen_RunnerUnregistered() public {
        Signer memory mallory = _signer("mallory");
        _expectSettleRevertFrom(
            mallory.addr,
            _lanebatch(_voucher(consumer.key, channelId, modelA, 1e6, 1), 0, 0),
            abi.encodeWithSelector(ISettlement.Settlement_RunnerNotActive.selector, mallory.addr)
        );
    }

    function test_Settle_RevertWhen_RunnerBondBelowMinimum() public {
        vm.prank(runner);
        runners.requestUnbond(1);
        _expectSettleRevert(
            _lanebatch(_voucher(consumer.key, channelId, modelA, 1e6, 1), 0, 0),
            abi.encodeWithSelector(ISettlement.Settlement_RunnerNotActive.selector, runner)
        );
    }

    function test_Settle_RevertWhen_BatchTotalsDoNotMatchVouchers() public {
        SignedVoucher memory v = _voucher(consumer.key, channelId, modelA, 10e6, 10);
        Batch memory batch = _lanebatch(v, 0, 0);
        batch.totals[0].amount = 10e6 + 1;
        _expectSettleRevert(
            batch,
            abi.encodeWithSelector(ISettlement.Settlement_TotalsMismatch.selector, modelA, 10, 10e6 + 1, 10, 10e6)
        );
        batch.totals[0].amount = 10e6;
        batch.totals[0].calls = 9;
        _expectSettleRevert(
            batch, abi.encodeWithSelector(ISettlement.Settlement_TotalsMismatch.selector, modelA, 9, 10e6, 10, 10e6)
        );
        batch.totals[0].calls = 10;
        batch.totals[0].modelId = modelB;
        _expectSettleRevert(
            batch, abi.encodeWithSelector(ISettlement.Settlement_TotalsMismatch.selector, modelB, 10, 10e6, 10, 10e6)
        );
        // One total too many, or none.
        ModelTotal[] memory two = new ModelTotal[](2);
        two[0] = ModelTotal({modelId: modelA, calls: 10, amount: 10e6});
        two[1] = ModelTotal({modelId: modelB, calls: 0, amount: 0});
        _expectSettleRevert(
            _batch(batch.receiptsRoot, two, batch.vouchers),
            abi.encodeWithSelector(ISettlement.Settlement_TotalsLengthMismatch.selector, 2, 1)
        );
        _expectSettleRevert(
            _batch(batch.receiptsRoot, new ModelTotal[](0), batch.vouchers),
            abi.encodeWithSelector(ISettlement.Settlement_TotalsLengthMismatch.selector, 0, 1)
        );
    }

    function test_Settle_RevertWhen_VoucherReplayed() public {
        SignedVoucher memory v = _voucher(consumer.key, channelId, modelA, 10e6, 10);
        _settleAs(runner, _lanebatch(v, 0, 0));
        _expectSettleRevert(
            _lanebatch(v, 0, 0),
            abi.encodeWithSelector(
                IPaymentChannels.PaymentChannels_VoucherStale.selector, channelId, modelA, 10e6, 10, 10e6, 10
            )
        );
    }

    function test_Settle_RevertWhen_AmountAboveChannelBalance() public {
        _expectSettleRevert(
            _lanebatch(_voucher(consumer.key, channelId, modelA, DEPOSIT + 1, 1), 0, 0),
            abi.encodeWithSelector(
                IPaymentChannels.PaymentChannels_InsufficientBalance.selector, channelId, DEPOSIT, DEPOSIT + 1
            )
        );
    }

    function test_Settle_DuringChallengePeriodButNotAfter() public {
        vm.prank(consumer.addr);
        uint256 closesAt = channels.requestClose(channelId);
        vm.warp(closesAt - 1);
        _settleAs(runner, _lanebatch(_voucher(consumer.key, channelId, modelA, 10e6, 10), 0, 0));
        vm.warp(closesAt);
        _expectSettleRevert(
            _lanebatch(_voucher(consumer.key, channelId, modelA, 20e6, 20), 10e6, 10),
            abi.encodeWithSelector(IPaymentChannels.PaymentChannels_ChallengePeriodEnded.selector, channelId, closesAt)
        );
        // The consumer recovers deposit − paid.
        vm.prank(consumer.addr);
        assertEq(channels.withdraw(channelId), DEPOSIT - 10e6);
    }

    function test_Settle_RevertWhen_ChannelOfAnotherRunner() public {
        Signer memory other = _signer("other runner");
        _registerRunner(other.addr, 0, MIN_BOND);
        _expectSettleRevertFrom(
            other.addr,
            _lanebatch(_voucher(consumer.key, channelId, modelA, 1e6, 1), 0, 0),
            abi.encodeWithSelector(IPaymentChannels.PaymentChannels_WrongRunner.selector, channelId, runner, other.addr)
        );
    }

    function test_Settle_RevertWhen_UnknownModel() public {
        _expectSettleRevert(
            _lanebatch(_voucher(consumer.key, channelId, 99, 1e6, 1), 0, 0),
            abi.encodeWithSelector(IModelRegistry.ModelRegistry_UnknownModel.selector, 99)
        );
    }

    function test_Settle_RevertWhen_EmptyBatchOrZeroRoot() public {
        _expectSettleRevert(
            _batch(keccak256("root"), new ModelTotal[](0), new SignedVoucher[](0)),
            abi.encodeWithSelector(ISettlement.Settlement_EmptyBatch.selector)
        );
        Batch memory batch = _lanebatch(_voucher(consumer.key, channelId, modelA, 1e6, 1), 0, 0);
        batch.receiptsRoot = bytes32(0);
        _expectSettleRevert(batch, abi.encodeWithSelector(ISettlement.Settlement_ZeroRoot.selector));
    }

    function test_Settle_RevertWhen_SettlementOrChannelsPaused() public {
        Batch memory batch = _lanebatch(_voucher(consumer.key, channelId, modelA, 1e6, 1), 0, 0);
        vm.prank(admin);
        settler.pause();
        _expectSettleRevert(batch, abi.encodeWithSelector(PausableUpgradeable.EnforcedPause.selector));
        vm.startPrank(admin);
        settler.unpause();
        channels.pause();
        vm.stopPrank();
        _expectSettleRevert(batch, abi.encodeWithSelector(PausableUpgradeable.EnforcedPause.selector));
    }

    function test_Settle_AcceptsPausedAndRetiredModels() public {
        vm.startPrank(creator);
        registry.setStatus(modelA, IModelRegistry.ModelStatus.Retired);
        registry.setStatus(modelB, IModelRegistry.ModelStatus.Paused);
        vm.stopPrank();
        _settleAs(runner, _lanebatch(_voucher(consumer.key, channelId, modelA, 1e6, 1), 0, 0));
        _settleAs(runner, _lanebatch(_voucher(consumer.key, channelId, modelB, 1e6, 1), 0, 0));
        assertEq(registry.getModel(modelA).totalCalls, 1);
        assertEq(registry.getModel(modelB).totalCalls, 1);
    }

    function test_Settle_ZeroVaultShareSendsNothingToVault() public {
        vm.prank(creator);
        registry.setVaultShareBps(modelB, 0);
        _settleAs(runner, _lanebatch(_voucher(consumer.key, channelId, modelB, 10e6, 1), 0, 0));
        assertEq(vaultB.totalRevenue(), 0);
        assertEq(shares.totalCredited(modelB), 10e6 - 10e6 * 1500 / 10_000);
    }

    /// @dev Issue 21 item 10: revenue settled while a vault has no shares used to wait there, locked,
    ///      for whoever deposited first, even 1 unit, to collect as it unlocked. It goes to the
    ///      holders at settlement instead, and the first depositor collects none of it.
    function test_Settle_EmptyVaultShareGoesToHolders_FirstDepositorCollectsNone() public {
        uint256 modelC = _registerSolo(creator, keccak256("adapter C"), 1);
        ModelVault vaultC = ModelVault(registry.getModelTerms(modelC).vault);
        uint256 amount = 100e6;
        uint256 net = amount - amount * PROTOCOL_FEE_BPS / 10_000 - amount * RUNNER_FEE_BPS / 10_000;
        vm.prank(runner);
        settler.settle(_lanebatch(_voucher(consumer.key, channelId, modelC, amount, 5), 0, 0));
        assertEq(shares.totalCredited(modelC), 0, "pending until a flush");

        // The first deposit into the empty vault flushes first: the split sees the vault empty.
        address eve = makeAddr("eve");
        usd.mint(eve, 1);
        vm.prank(eve);
        usd.approve(address(vaultC), 1);
        vm.expectEmit(address(settler));
        emit ISettlement.RevenueFlushed(modelC, 5, amount, 0, net);
        vm.prank(eve);
        uint256 minted = vaultC.deposit(1, eve);
        assertEq(vaultC.totalRevenue(), 0);
        assertEq(vaultC.lockedRevenue(), 0);
        assertEq(shares.totalCredited(modelC), net, "the vault's share went to the holders");
        vm.warp(block.timestamp + 30 days);
        vm.prank(eve);
        assertLe(vaultC.redeem(minted, eve, eve), 1, "eve collects nothing settled before her deposit");
        address[] memory vaults = new address[](3);
        (vaults[0], vaults[1], vaults[2]) = (address(vaultA), address(vaultB), address(vaultC));
        assertEq(_held(vaults), _owed(vaults));
    }

    function test_Settle_RunnerFeeIsCappedByGovernance() public {
        vm.prank(admin);
        runners.setMaxFeeBps(200);
        _settleAs(runner, _lanebatch(_voucher(consumer.key, channelId, modelA, 10e6, 1), 0, 0));
        assertEq(settler.runnerFeesAccrued(runner), 10e6 * 200 / 10_000);
    }

    function testFuzz_Settle_SplitAddsUpAndBooksBalance(uint96 rawAmount, uint16 rawProtocol, uint16 rawRunner) public {
        uint256 amount = bound(rawAmount, 1, DEPOSIT);
        uint16 protocolFee = uint16(bound(rawProtocol, 0, 2000));
        uint16 runnerFee = uint16(bound(rawRunner, 0, MAX_RUNNER_FEE_BPS));
        vm.prank(admin);
        settler.setProtocolFeeBps(protocolFee);
        vm.prank(runner);
        runners.setFeeBps(runnerFee);
        _settleAs(runner, _lanebatch(_voucher(consumer.key, channelId, modelA, amount, 3), 0, 0));
        assertEq(
            settler.protocolFeesAccrued() + settler.runnerFeesAccrued(runner) + vaultA.totalRevenue()
                + shares.totalCredited(modelA),
            amount
        );
        assertEq(_held(_vaults()), _owed(_vaults()));
    }

    // ------------------------------------------------------------------ fees

    function test_ClaimRunnerFees_PaysRunnerOnce() public {
        _settleAs(runner, _lanebatch(_voucher(consumer.key, channelId, modelA, 100e6, 1), 0, 0));
        address payout = makeAddr("payout");
        vm.expectEmit(address(settler));
        emit ISettlement.RunnerFeesClaimed(runner, payout, 10e6, 10e6);
        vm.prank(runner);
        assertEq(settler.claimRunnerFees(payout), 10e6);
        assertEq(usd.balanceOf(payout), 10e6);
        assertEq(settler.runnerFeesAccrued(runner), 0);
        vm.prank(runner);
        assertEq(settler.claimRunnerFees(payout), 0);
        assertEq(usd.balanceOf(payout), 10e6);
        vm.expectRevert(ISettlement.Settlement_ZeroAddress.selector);
        vm.prank(runner);
        settler.claimRunnerFees(address(0));
    }

    function test_WithdrawProtocolFees_AnyoneSendsToTreasury() public {
        _settleAs(runner, _lanebatch(_voucher(consumer.key, channelId, modelA, 100e6, 1), 0, 0));
        vm.expectEmit(address(settler));
        emit ISettlement.ProtocolFeesWithdrawn(treasury, 5e6, 5e6);
        vm.prank(stranger);
        assertEq(settler.withdrawProtocolFees(), 5e6);
        assertEq(usd.balanceOf(treasury), 5e6);
        assertEq(settler.withdrawProtocolFees(), 0);
    }

    function test_Claims_WorkWhileEverythingIsPaused() public {
        _settleAs(runner, _lanebatch(_voucher(consumer.key, channelId, modelA, 100e6, 1), 0, 0));
        vm.prank(consumer.addr);
        uint256 closesAt = channels.requestClose(channelId);
        vm.startPrank(admin);
        settler.pause();
        channels.pause();
        runners.pause();
        shares.pause();
        factory.pause();
        registry.pause();
        vm.stopPrank();
        vm.prank(runner);
        assertEq(settler.claimRunnerFees(runner), 10e6);
        assertEq(settler.withdrawProtocolFees(), 5e6);
        vm.prank(alice.addr);
        assertGt(shares.claim(modelA), 0);
        vm.warp(closesAt);
        vm.prank(consumer.addr);
        assertEq(channels.withdraw(channelId), DEPOSIT - 100e6);
    }

    // ------------------------------------------------------------------ receipts

    function test_VerifyReceipt_ProvesInclusionInStoredBatch() public {
        CallReceipt[] memory receipts = new CallReceipt[](3);
        bytes32[] memory leaves = new bytes32[](3);
        for (uint256 i; i < 3; ++i) {
            // casting to 'uint64' is safe because i < 3.
            // forge-lint: disable-next-line(unsafe-typecast)
            receipts[i] = _receipt(channelId, modelA, uint64(i + 1), keccak256(abi.encode("output", i)));
            leaves[i] = settler.receiptLeaf(receipts[i]);
            assertEq(leaves[i], keccak256(abi.encode(PaymentMessages.hashReceipt(receipts[i]))));
        }
        // Three leaves: the odd one is promoted (sdk/protocol/merkle.ts).
        bytes32 h01 = _hashPair(leaves[0], leaves[1]);
        bytes32 root = _hashPair(h01, leaves[2]);
        Batch memory batch = _lanebatch(_voucher(consumer.key, channelId, modelA, 3e6, 3), 0, 0);
        batch.receiptsRoot = root;
        uint256 sequence = _settleAs(runner, batch);

        bytes32[] memory proof = new bytes32[](2);
        proof[0] = leaves[1];
        proof[1] = leaves[2];
        assertTrue(settler.verifyReceipt(runner, sequence, receipts[0], proof));
        proof[0] = leaves[0];
        assertTrue(settler.verifyReceipt(runner, sequence, receipts[1], proof));
        bytes32[] memory short = new bytes32[](1);
        short[0] = h01;
        assertTrue(settler.verifyReceipt(runner, sequence, receipts[2], short));
        assertTrue(settler.verifyLeaf(runner, sequence, leaves[2], short));

        // A receipt that was not in the batch, a wrong proof, another batch, another runner: false.
        CallReceipt memory forged = receipts[2];
        forged.outputHash = keccak256("forged");
        assertFalse(settler.verifyReceipt(runner, sequence, forged, short));
        assertFalse(settler.verifyReceipt(runner, sequence, receipts[0], short));
        assertFalse(settler.verifyReceipt(runner, sequence + 1, receipts[2], short));
        assertFalse(settler.verifyReceipt(stranger, sequence, receipts[2], short));
    }

    function _hashPair(bytes32 a, bytes32 b) internal pure returns (bytes32) {
        return a < b ? keccak256(abi.encode(a, b)) : keccak256(abi.encode(b, a));
    }

    // ------------------------------------------------------------------ equivocation

    function test_ReportEquivocation_SlashesRunnerAndPaysReporterAndTreasury() public {
        CallReceipt memory a = _receipt(channelId, modelA, 1, keccak256("output one"));
        CallReceipt memory b = _receipt(channelId, modelA, 1, keccak256("output two"));
        bytes memory sigA = _signReceipt(runnerKey.key, a);
        bytes memory sigB = _signReceipt(runnerKey.key, b);
        uint256 slashed = MIN_BOND * SLASH_BPS / 10_000;
        uint256 toReporter = slashed * REPORTER_BPS / 10_000;
        vm.expectEmit(address(settler));
        emit ISettlement.EquivocationReported(runner, a.requestHash, reporter, a.outputHash, b.outputHash, slashed);
        vm.prank(reporter);
        assertEq(settler.reportEquivocation(runner, a, sigA, b, sigB), slashed);
        assertEq(usd.balanceOf(reporter), toReporter);
        assertEq(usd.balanceOf(treasury), slashed - toReporter);
        assertEq(runners.getRunner(runner).bond, MIN_BOND - slashed);
        assertFalse(runners.isActive(runner));

        // The same equivocation cannot slash twice.
        vm.expectRevert(
            abi.encodeWithSelector(IRunnerRegistry.RunnerRegistry_EvidenceUsed.selector, runner, a.requestHash)
        );
        vm.prank(reporter);
        settler.reportEquivocation(runner, b, sigB, a, sigA);
    }

    function test_ReportEquivocation_RevertWhen_OutputsEqual() public {
        CallReceipt memory a = _receipt(channelId, modelA, 1, keccak256("same output"));
        CallReceipt memory b = a;
        b.adapterHash = keccak256("another adapter field, same output");
        bytes memory sigA = _signReceipt(runnerKey.key, a);
        bytes memory sigB = _signReceipt(runnerKey.key, b);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.Settlement_SameOutput.selector, a.requestHash, a.outputHash));
        settler.reportEquivocation(runner, a, sigA, b, sigB);
        assertEq(runners.getRunner(runner).bond, MIN_BOND);
    }

    function test_ReportEquivocation_RevertWhen_RequestsDiffer() public {
        CallReceipt memory a = _receipt(channelId, modelA, 1, keccak256("output one"));
        CallReceipt memory b = _receipt(channelId, modelA, 2, keccak256("output two"));
        bytes memory sigA = _signReceipt(runnerKey.key, a);
        bytes memory sigB = _signReceipt(runnerKey.key, b);
        vm.expectRevert(
            abi.encodeWithSelector(ISettlement.Settlement_DifferentRequests.selector, a.requestHash, b.requestHash)
        );
        settler.reportEquivocation(runner, a, sigA, b, sigB);
    }

    function test_ReportEquivocation_RevertWhen_SignatureNotRunners() public {
        CallReceipt memory a = _receipt(channelId, modelA, 1, keccak256("output one"));
        CallReceipt memory b = _receipt(channelId, modelA, 1, keccak256("output two"));
        bytes memory sigA = _signReceipt(runnerKey.key, a);
        bytes memory forged = _signReceipt(consumer.key, b);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.Settlement_InvalidReceiptSignature.selector, runner));
        settler.reportEquivocation(runner, a, sigA, b, forged);
        // A runner signature made for another Settlement deployment does not count either.
        bytes32 otherDomain = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("OpenLoRA Settlement"),
                keccak256("1"),
                block.chainid,
                address(0xBEEF)
            )
        );
        bytes memory elsewhere =
            _sign(runnerKey.key, keccak256(abi.encodePacked(hex"1901", otherDomain, PaymentMessages.hashReceipt(b))));
        vm.expectRevert(abi.encodeWithSelector(ISettlement.Settlement_InvalidReceiptSignature.selector, runner));
        settler.reportEquivocation(runner, a, sigA, b, elsewhere);
    }

    function test_ReportEquivocation_WorksWhilePausedAndForContractRunners() public {
        MockERC1271Wallet wallet = new MockERC1271Wallet(runnerKey.addr);
        _registerRunner(address(wallet), 0, MIN_BOND);
        vm.startPrank(admin);
        settler.pause();
        runners.pause();
        vm.stopPrank();
        CallReceipt memory a = _receipt(channelId, modelA, 1, keccak256("output one"));
        CallReceipt memory b = _receipt(channelId, modelA, 1, keccak256("output two"));
        vm.prank(reporter);
        uint256 slashed = settler.reportEquivocation(
            address(wallet), a, _signReceipt(runnerKey.key, a), b, _signReceipt(runnerKey.key, b)
        );
        assertEq(slashed, MIN_BOND * SLASH_BPS / 10_000);
    }

    // ------------------------------------------------------------------ governance

    function test_SetProtocolFeeBps_OnlyFeeSetterWithinCap() public {
        vm.expectRevert(_missingRole(stranger, settler.FEE_SETTER_ROLE()));
        vm.prank(stranger);
        settler.setProtocolFeeBps(100);
        vm.startPrank(admin);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.Settlement_ProtocolFeeTooHigh.selector, 2001, 2000));
        settler.setProtocolFeeBps(2001);
        vm.expectEmit(address(settler));
        emit ISettlement.ProtocolFeeSet(PROTOCOL_FEE_BPS, 100);
        settler.setProtocolFeeBps(100);
        vm.stopPrank();
        assertEq(settler.protocolFeeBps(), 100);
    }

    function test_SetTreasury_OnlyAdminNonZero() public {
        vm.expectRevert(_missingRole(stranger, settler.DEFAULT_ADMIN_ROLE()));
        vm.prank(stranger);
        settler.setTreasury(stranger);
        vm.startPrank(admin);
        vm.expectRevert(ISettlement.Settlement_ZeroAddress.selector);
        settler.setTreasury(address(0));
        vm.expectEmit(address(settler));
        emit ISettlement.TreasurySet(treasury, stranger);
        settler.setTreasury(stranger);
        vm.stopPrank();
        assertEq(settler.treasury(), stranger);
    }

    function test_Pause_OnlyPauser() public {
        vm.expectRevert(_missingRole(stranger, settler.PAUSER_ROLE()));
        vm.prank(stranger);
        settler.pause();
        vm.prank(admin);
        settler.pause();
        vm.expectRevert(_missingRole(stranger, settler.PAUSER_ROLE()));
        vm.prank(stranger);
        settler.unpause();
        vm.prank(admin);
        settler.unpause();
        assertFalse(settler.paused());
    }

    function test_Upgrade_OnlyUpgraderKeepsState() public {
        _settleAs(runner, _lanebatch(_voucher(consumer.key, channelId, modelA, 1e6, 1), 0, 0));
        address impl = address(new Settlement(_modules()));
        vm.expectRevert(_missingRole(stranger, settler.UPGRADER_ROLE()));
        vm.prank(stranger);
        settler.upgradeToAndCall(impl, "");
        vm.prank(admin);
        settler.upgradeToAndCall(impl, "");
        assertEq(settler.batchCount(runner), 1);
        assertEq(settler.treasury(), treasury);
    }

    // ------------------------------------------------------------------ helpers

    function _expectSettleRevertFrom(address who, Batch memory batch, bytes memory err) internal {
        vm.expectRevert(err);
        vm.prank(who);
        settler.settle(batch);
    }
}
