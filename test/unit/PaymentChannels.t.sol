// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {PaymentChannels} from "../../contracts/PaymentChannels.sol";
import {IPaymentChannels} from "../../contracts/interfaces/IPaymentChannels.sol";
import {IRunnerRegistry} from "../../contracts/interfaces/IRunnerRegistry.sol";
import {ModelTotal, SignedVoucher} from "../../contracts/types/PaymentTypes.sol";
import {PaymentsFixture} from "../integration/PaymentsFixture.sol";
import {MockERC1271Wallet} from "../mocks/MockERC1271Wallet.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {PausableUpgradeable} from "@openzeppelin/contracts-upgradeable/utils/PausableUpgradeable.sol";
import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

contract PaymentChannelsTest is PaymentsFixture {
    address internal runner = makeAddr("runner");
    address internal otherRunner = makeAddr("otherRunner");
    address internal settleCaller = makeAddr("settleCaller");
    Signer internal consumer;
    Signer internal session;
    uint256 internal constant DEPOSIT = 100e6;
    uint256 internal channelId;

    function setUp() public override {
        super.setUp();
        consumer = _signer("consumer");
        session = _signer("session");
        _registerRunner(runner, RUNNER_FEE_BPS, MIN_BOND);
        _registerRunner(otherRunner, RUNNER_FEE_BPS, MIN_BOND);
        // Channels in isolation: an ordinary account plays Settlement.
        bytes32 role = channels.SETTLEMENT_ROLE();
        vm.prank(admin);
        channels.grantRole(role, settleCaller);
        channelId = _open(consumer.addr, runner, DEPOSIT, address(0));
    }

    function _settle(SignedVoucher memory v) internal returns (ModelTotal[] memory totals, uint256 amount) {
        vm.prank(settleCaller);
        (totals, amount) = channels.settleVouchers(runner, _one(v));
    }

    function _expectSettleRevert(SignedVoucher memory v, bytes memory err) internal {
        SignedVoucher[] memory list = _one(v);
        vm.expectRevert(err);
        vm.prank(settleCaller);
        channels.settleVouchers(runner, list);
    }

    // ------------------------------------------------------------------ initialize

    function test_Initialize_SetsRolesAndParameters() public view {
        assertTrue(channels.hasRole(channels.DEFAULT_ADMIN_ROLE(), admin));
        assertTrue(channels.hasRole(channels.UPGRADER_ROLE(), admin));
        assertTrue(channels.hasRole(channels.PAUSER_ROLE(), admin));
        assertTrue(channels.hasRole(channels.SETTLEMENT_ROLE(), address(settler)));
        assertEq(address(channels.asset()), address(usd));
        assertEq(address(channels.runnerRegistry()), address(runners));
        assertEq(channels.challengePeriod(), CHALLENGE_PERIOD);
        assertEq(
            channels.VOUCHER_TYPEHASH(),
            keccak256(
                "Voucher(uint256 channelId,uint256 modelId,uint256 cumulativeAmount,uint64 cumulativeCalls,bytes32 transcriptHash)"
            )
        );
    }

    function test_DomainSeparator_BindsNameVersionChainAndProxy() public view {
        bytes32 expected = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("OpenLoRA PaymentChannels"),
                keccak256("1"),
                block.chainid,
                address(channels)
            )
        );
        assertEq(channels.DOMAIN_SEPARATOR(), expected);
        assertEq(
            channels.voucherDigest(1, 2, 3, 4, bytes32(uint256(5))),
            _voucherDigest(address(channels), block.chainid, 1, 2, 3, 4, bytes32(uint256(5)))
        );
    }

    function test_Initialize_RevertWhen_CalledOnImplementation() public {
        PaymentChannels impl = new PaymentChannels();
        vm.expectRevert(Initializable.InvalidInitialization.selector);
        impl.initialize(admin, IERC20(address(usd)), runners, CHALLENGE_PERIOD);
    }

    function test_Initialize_RevertWhen_ZeroAddress() public {
        address impl = address(new PaymentChannels());
        vm.expectRevert(IPaymentChannels.PaymentChannels_ZeroAddress.selector);
        new ERC1967Proxy(
            impl, abi.encodeCall(PaymentChannels.initialize, (admin, IERC20(address(0)), runners, CHALLENGE_PERIOD))
        );
    }

    function test_Initialize_RevertWhen_ChallengePeriodOutOfRange() public {
        address impl = address(new PaymentChannels());
        vm.expectRevert(
            abi.encodeWithSelector(IPaymentChannels.PaymentChannels_ChallengePeriodOutOfRange.selector, 1 minutes)
        );
        new ERC1967Proxy(
            impl, abi.encodeCall(PaymentChannels.initialize, (admin, IERC20(address(usd)), runners, 1 minutes))
        );
    }

    // ------------------------------------------------------------------ open

    function test_Open_EscrowsDepositAndNumbersChannelsFromOne() public {
        assertEq(channelId, 1);
        IPaymentChannels.Channel memory c = channels.getChannel(channelId);
        assertEq(c.consumer, consumer.addr);
        assertEq(c.runner, runner);
        assertEq(c.sessionKey, address(0));
        assertEq(c.deposited, DEPOSIT);
        assertEq(c.paid, 0);
        assertEq(c.closesAt, 0);
        assertFalse(c.withdrawn);
        assertEq(channels.balanceOf(channelId), DEPOSIT);
        assertEq(channels.totalBalance(), DEPOSIT);
        assertEq(usd.balanceOf(address(channels)), DEPOSIT);

        usd.mint(consumer.addr, 5e6);
        vm.startPrank(consumer.addr);
        usd.approve(address(channels), 5e6);
        vm.expectEmit(address(channels));
        emit IPaymentChannels.ChannelOpened(2, consumer.addr, otherRunner, session.addr, 5e6);
        uint256 second = channels.open(otherRunner, 5e6, session.addr);
        vm.stopPrank();
        assertEq(second, 2);
        assertEq(channels.channelCount(), 2);
        assertEq(channels.getChannel(second).sessionKey, session.addr);
        assertEq(channels.totalBalance(), DEPOSIT + 5e6);
    }

    function test_Open_RevertWhen_RunnerNotRegistered() public {
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.PaymentChannels_RunnerNotRegistered.selector, stranger));
        vm.prank(consumer.addr);
        channels.open(stranger, 1, address(0));
    }

    function test_Open_RevertWhen_ZeroAmountOrZeroRunner() public {
        vm.startPrank(consumer.addr);
        vm.expectRevert(IPaymentChannels.PaymentChannels_ZeroAmount.selector);
        channels.open(runner, 0, address(0));
        vm.expectRevert(IPaymentChannels.PaymentChannels_ZeroAddress.selector);
        channels.open(address(0), 1, address(0));
        vm.stopPrank();
    }

    function test_Open_RevertWhen_SessionKeyIsConsumer() public {
        vm.expectRevert(
            abi.encodeWithSelector(IPaymentChannels.PaymentChannels_InvalidSessionKey.selector, consumer.addr)
        );
        vm.prank(consumer.addr);
        channels.open(runner, 1, consumer.addr);
    }

    function test_Open_RevertWhen_DepositAbove128Bits() public {
        uint256 amount = uint256(type(uint128).max) + 1;
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.PaymentChannels_DepositTooLarge.selector, 2, amount));
        vm.prank(consumer.addr);
        channels.open(runner, amount, address(0));
    }

    function test_Open_RevertWhen_Paused() public {
        vm.prank(admin);
        channels.pause();
        vm.expectRevert(PausableUpgradeable.EnforcedPause.selector);
        vm.prank(consumer.addr);
        channels.open(runner, 1, address(0));
    }

    function test_OpenWithPermit_FundsWithoutApproval() public {
        uint256 amount = 7e6;
        usd.mint(consumer.addr, amount);
        (uint8 v, bytes32 r, bytes32 s) = _permit(consumer, amount, block.timestamp + 1 hours);
        vm.prank(consumer.addr);
        uint256 id = channels.openWithPermit(runner, amount, address(0), block.timestamp + 1 hours, v, r, s);
        assertEq(channels.getChannel(id).deposited, amount);
        assertEq(usd.balanceOf(consumer.addr), 0);
    }

    function test_OpenWithPermit_SucceedsWhenPermitWasFrontRun() public {
        uint256 amount = 7e6;
        usd.mint(consumer.addr, amount);
        uint256 deadline = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) = _permit(consumer, amount, deadline);
        // Someone submits the permit first: the allowance is there, the nonce is used.
        usd.permit(consumer.addr, address(channels), amount, deadline, v, r, s);
        vm.prank(consumer.addr);
        uint256 id = channels.openWithPermit(runner, amount, address(0), deadline, v, r, s);
        assertEq(channels.getChannel(id).deposited, amount);
    }

    function test_OpenWithPermit_RevertWhen_PermitInvalidAndNoAllowance() public {
        uint256 amount = 7e6;
        usd.mint(consumer.addr, amount);
        (uint8 v, bytes32 r, bytes32 s) = _permit(session, amount, block.timestamp + 1 hours); // wrong signer
        vm.expectRevert(); // ERC20InsufficientAllowance from the token
        vm.prank(consumer.addr);
        channels.openWithPermit(runner, amount, address(0), block.timestamp + 1 hours, v, r, s);
    }

    function _permit(Signer memory owner, uint256 amount, uint256 deadline)
        internal
        view
        returns (uint8, bytes32, bytes32)
    {
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"),
                consumer.addr,
                address(channels),
                amount,
                usd.nonces(consumer.addr),
                deadline
            )
        );
        return vm.sign(owner.key, keccak256(abi.encodePacked(hex"1901", usd.DOMAIN_SEPARATOR(), structHash)));
    }

    // ------------------------------------------------------------------ top-up

    function test_TopUp_AddsToDeposit() public {
        usd.mint(consumer.addr, 10e6);
        vm.startPrank(consumer.addr);
        usd.approve(address(channels), 10e6);
        vm.expectEmit(address(channels));
        emit IPaymentChannels.ChannelToppedUp(channelId, consumer.addr, 10e6, DEPOSIT + 10e6);
        channels.topUp(channelId, 10e6);
        vm.stopPrank();
        assertEq(channels.balanceOf(channelId), DEPOSIT + 10e6);
        assertEq(channels.totalBalance(), DEPOSIT + 10e6);
    }

    function test_TopUp_CancelsPendingClose() public {
        vm.prank(consumer.addr);
        channels.requestClose(channelId);
        vm.warp(block.timestamp + CHALLENGE_PERIOD - 1);
        usd.mint(consumer.addr, 1);
        vm.startPrank(consumer.addr);
        usd.approve(address(channels), 1);
        vm.expectEmit(address(channels));
        emit IPaymentChannels.CloseCancelled(channelId, consumer.addr);
        channels.topUp(channelId, 1);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.PaymentChannels_CloseNotRequested.selector, channelId));
        channels.withdraw(channelId);
        vm.stopPrank();
        assertEq(channels.getChannel(channelId).closesAt, 0);
        // The runner can settle again after the old close time.
        vm.warp(block.timestamp + 2 days);
        _settle(_voucher(consumer.key, channelId, 1, 10, 1));
    }

    function test_TopUp_RevertWhen_ChallengePeriodEnded() public {
        vm.prank(consumer.addr);
        uint256 closesAt = channels.requestClose(channelId);
        vm.warp(closesAt);
        vm.expectRevert(
            abi.encodeWithSelector(IPaymentChannels.PaymentChannels_ChallengePeriodEnded.selector, channelId, closesAt)
        );
        vm.prank(consumer.addr);
        channels.topUp(channelId, 1);
    }

    function test_TopUp_RevertWhen_NotConsumer() public {
        vm.expectRevert(
            abi.encodeWithSelector(IPaymentChannels.PaymentChannels_NotConsumer.selector, channelId, stranger)
        );
        vm.prank(stranger);
        channels.topUp(channelId, 1);
    }

    function test_TopUp_RevertWhen_UnknownChannelZeroAmountOrPaused() public {
        vm.startPrank(consumer.addr);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.PaymentChannels_UnknownChannel.selector, 99));
        channels.topUp(99, 1);
        vm.expectRevert(IPaymentChannels.PaymentChannels_ZeroAmount.selector);
        channels.topUp(channelId, 0);
        vm.stopPrank();
        vm.prank(admin);
        channels.pause();
        vm.expectRevert(PausableUpgradeable.EnforcedPause.selector);
        vm.prank(consumer.addr);
        channels.topUp(channelId, 1);
    }

    function test_TopUp_RevertWhen_DepositWouldExceed128Bits() public {
        uint256 amount = uint256(type(uint128).max);
        vm.expectRevert(
            abi.encodeWithSelector(
                IPaymentChannels.PaymentChannels_DepositTooLarge.selector, channelId, amount + DEPOSIT
            )
        );
        vm.prank(consumer.addr);
        channels.topUp(channelId, amount);
    }

    function test_TopUpWithPermit_FundsWithoutApproval() public {
        usd.mint(consumer.addr, 3e6);
        (uint8 v, bytes32 r, bytes32 s) = _permit(consumer, 3e6, block.timestamp + 1 hours);
        vm.prank(consumer.addr);
        channels.topUpWithPermit(channelId, 3e6, block.timestamp + 1 hours, v, r, s);
        assertEq(channels.balanceOf(channelId), DEPOSIT + 3e6);
    }

    // ------------------------------------------------------------------ close and withdraw

    function test_RequestClose_StartsChallengePeriod() public {
        vm.expectEmit(address(channels));
        emit IPaymentChannels.CloseRequested(channelId, consumer.addr, block.timestamp + CHALLENGE_PERIOD);
        vm.prank(consumer.addr);
        uint256 closesAt = channels.requestClose(channelId);
        assertEq(closesAt, block.timestamp + CHALLENGE_PERIOD);
        assertEq(channels.getChannel(channelId).closesAt, closesAt);
    }

    function test_RequestClose_RevertWhen_AlreadyRequestedOrNotConsumer() public {
        vm.expectRevert(
            abi.encodeWithSelector(IPaymentChannels.PaymentChannels_NotConsumer.selector, channelId, runner)
        );
        vm.prank(runner);
        channels.requestClose(channelId);
        vm.startPrank(consumer.addr);
        uint256 closesAt = channels.requestClose(channelId);
        vm.expectRevert(
            abi.encodeWithSelector(IPaymentChannels.PaymentChannels_CloseAlreadyRequested.selector, channelId, closesAt)
        );
        channels.requestClose(channelId);
        vm.stopPrank();
    }

    function test_Withdraw_PaysDepositMinusPaidAfterChallengePeriod() public {
        _settle(_voucher(consumer.key, channelId, 1, 30e6, 3));
        vm.prank(consumer.addr);
        uint256 closesAt = channels.requestClose(channelId);
        // The runner can still settle during the challenge period.
        vm.warp(closesAt - 1);
        _settle(_voucher(consumer.key, channelId, 1, 40e6, 4));
        vm.warp(closesAt);
        vm.expectEmit(address(channels));
        emit IPaymentChannels.ChannelWithdrawn(channelId, consumer.addr, DEPOSIT - 40e6, 40e6);
        vm.prank(consumer.addr);
        uint256 amount = channels.withdraw(channelId);
        assertEq(amount, DEPOSIT - 40e6);
        assertEq(usd.balanceOf(consumer.addr), DEPOSIT - 40e6);
        assertEq(channels.balanceOf(channelId), 0);
        assertEq(channels.totalBalance(), 0);
        // What was settled stays here for Settlement to pay out.
        assertEq(usd.balanceOf(address(channels)), 40e6);
        assertTrue(channels.getChannel(channelId).withdrawn);
    }

    function test_Withdraw_RevertWhen_WithdrawnTwice() public {
        vm.startPrank(consumer.addr);
        uint256 closesAt = channels.requestClose(channelId);
        vm.warp(closesAt);
        channels.withdraw(channelId);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.PaymentChannels_ChannelClosed.selector, channelId));
        channels.withdraw(channelId);
        vm.stopPrank();
        assertEq(usd.balanceOf(consumer.addr), DEPOSIT);
    }

    function test_Withdraw_RevertWhen_ChallengePeriodActive() public {
        vm.startPrank(consumer.addr);
        uint256 closesAt = channels.requestClose(channelId);
        vm.warp(closesAt - 1);
        vm.expectRevert(
            abi.encodeWithSelector(IPaymentChannels.PaymentChannels_ChallengePeriodActive.selector, channelId, closesAt)
        );
        channels.withdraw(channelId);
        vm.stopPrank();
    }

    function test_Withdraw_RevertWhen_CloseNotRequestedOrNotConsumer() public {
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.PaymentChannels_CloseNotRequested.selector, channelId));
        vm.prank(consumer.addr);
        channels.withdraw(channelId);
        vm.prank(consumer.addr);
        uint256 closesAt = channels.requestClose(channelId);
        vm.warp(closesAt);
        vm.expectRevert(
            abi.encodeWithSelector(IPaymentChannels.PaymentChannels_NotConsumer.selector, channelId, runner)
        );
        vm.prank(runner);
        channels.withdraw(channelId);
    }

    function test_CloseAndWithdraw_WorkWhilePaused() public {
        vm.prank(admin);
        channels.pause();
        vm.startPrank(consumer.addr);
        uint256 closesAt = channels.requestClose(channelId);
        vm.warp(closesAt);
        assertEq(channels.withdraw(channelId), DEPOSIT);
        vm.stopPrank();
    }

    function test_Channel_IdsAreNeverReused() public {
        vm.startPrank(consumer.addr);
        vm.warp(channels.requestClose(channelId));
        channels.withdraw(channelId);
        vm.stopPrank();
        uint256 next = _open(consumer.addr, runner, 1e6, address(0));
        assertEq(next, channelId + 1);
        // A voucher of the closed channel cannot be settled, not even against the new one.
        _expectSettleRevert(
            _voucher(consumer.key, channelId, 1, 1, 1),
            abi.encodeWithSelector(IPaymentChannels.PaymentChannels_ChannelClosed.selector, channelId)
        );
    }

    // ------------------------------------------------------------------ session keys

    function test_SessionKey_SignsVouchers() public {
        vm.prank(consumer.addr);
        channels.setSessionKey(channelId, session.addr);
        assertTrue(channels.isAuthorizedSigner(channelId, session.addr));
        assertTrue(channels.isAuthorizedSigner(channelId, consumer.addr));
        assertFalse(channels.isAuthorizedSigner(channelId, stranger));
        assertFalse(channels.isAuthorizedSigner(channelId, address(0)));
        (, uint256 amount) = _settle(_voucher(session.key, channelId, 1, 5e6, 5));
        assertEq(amount, 5e6);
    }

    function test_SessionKey_ReplacedKeyStaysValidForOneChallengePeriod() public {
        Signer memory next = _signer("next session");
        vm.startPrank(consumer.addr);
        channels.setSessionKey(channelId, session.addr);
        vm.expectEmit(address(channels));
        emit IPaymentChannels.SessionKeySet(channelId, next.addr, session.addr, block.timestamp + CHALLENGE_PERIOD);
        channels.setSessionKey(channelId, next.addr);
        vm.stopPrank();
        _settle(_voucher(session.key, channelId, 1, 1e6, 1));
        _settle(_voucher(next.key, channelId, 1, 2e6, 2));
        vm.warp(block.timestamp + CHALLENGE_PERIOD);
        assertFalse(channels.isAuthorizedSigner(channelId, session.addr));
        _expectSettleRevert(
            _voucher(session.key, channelId, 1, 3e6, 3),
            abi.encodeWithSelector(
                IPaymentChannels.PaymentChannels_InvalidSignature.selector, channelId, 1, session.addr
            )
        );
    }

    function test_SetSessionKey_RevertWhen_ChangePending() public {
        vm.startPrank(consumer.addr);
        channels.setSessionKey(channelId, session.addr);
        channels.setSessionKey(channelId, stranger);
        uint256 until = block.timestamp + CHALLENGE_PERIOD;
        vm.expectRevert(
            abi.encodeWithSelector(IPaymentChannels.PaymentChannels_SessionKeyChangePending.selector, channelId, until)
        );
        channels.setSessionKey(channelId, address(0));
        vm.warp(until);
        channels.setSessionKey(channelId, address(0));
        vm.stopPrank();
        assertEq(channels.getChannel(channelId).sessionKey, address(0));
    }

    function test_SetSessionKey_RevertWhen_NotConsumerOrKeyIsConsumer() public {
        vm.expectRevert(
            abi.encodeWithSelector(IPaymentChannels.PaymentChannels_NotConsumer.selector, channelId, stranger)
        );
        vm.prank(stranger);
        channels.setSessionKey(channelId, stranger);
        vm.expectRevert(
            abi.encodeWithSelector(IPaymentChannels.PaymentChannels_InvalidSessionKey.selector, consumer.addr)
        );
        vm.prank(consumer.addr);
        channels.setSessionKey(channelId, consumer.addr);
    }

    // ------------------------------------------------------------------ settleVouchers

    function test_SettleVouchers_PaysLaneAndKeepsAmountForCaller() public {
        SignedVoucher memory v = _voucher(consumer.key, channelId, 7, 12e6, 12);
        vm.expectEmit(address(channels));
        emit IPaymentChannels.VoucherRedeemed(channelId, 7, runner, 12e6, 12, 12e6, 12, v.transcriptHash, 12e6);
        (ModelTotal[] memory totals, uint256 amount) = _settle(v);
        assertEq(amount, 12e6);
        assertEq(totals.length, 1);
        assertEq(totals[0].modelId, 7);
        assertEq(totals[0].calls, 12);
        assertEq(totals[0].amount, 12e6);
        // Kept here for Settlement: the asset held exceeds the channels' balances by the amount.
        assertEq(usd.balanceOf(settleCaller), 0);
        assertEq(usd.balanceOf(address(channels)) - channels.totalBalance(), 12e6);
        IPaymentChannels.Lane memory lane = channels.getLane(channelId, 7);
        assertEq(lane.paidAmount, 12e6);
        assertEq(lane.paidCalls, 12);
        assertEq(channels.getChannel(channelId).paid, 12e6);
        assertEq(channels.balanceOf(channelId), DEPOSIT - 12e6);
        assertEq(channels.totalBalance(), DEPOSIT - 12e6);

        // The next voucher pays only its increase.
        (, amount) = _settle(_voucher(consumer.key, channelId, 7, 15e6, 20));
        assertEq(amount, 3e6);
        assertEq(channels.getLane(channelId, 7).paidCalls, 20);
    }

    function test_SettleVouchers_AggregatesPerModelInOrder() public {
        uint256 second = _open(consumer.addr, runner, DEPOSIT, address(0));
        SignedVoucher[] memory list = new SignedVoucher[](4);
        list[0] = _voucher(consumer.key, channelId, 1, 1e6, 1);
        list[1] = _voucher(consumer.key, second, 1, 2e6, 2);
        list[2] = _voucher(consumer.key, channelId, 3, 3e6, 3);
        list[3] = _voucher(consumer.key, channelId, 3, 5e6, 4); // the same lane again, strictly newer
        vm.prank(settleCaller);
        (ModelTotal[] memory totals, uint256 amount) = channels.settleVouchers(runner, list);
        assertEq(amount, 8e6);
        assertEq(totals.length, 2);
        assertEq(totals[0].modelId, 1);
        assertEq(totals[0].calls, 3);
        assertEq(totals[0].amount, 3e6);
        assertEq(totals[1].modelId, 3);
        assertEq(totals[1].calls, 4);
        assertEq(totals[1].amount, 5e6);
    }

    function test_SettleVouchers_RevertWhen_VoucherReplayed() public {
        SignedVoucher memory v = _voucher(consumer.key, channelId, 1, 10e6, 10);
        _settle(v);
        _expectSettleRevert(
            v,
            abi.encodeWithSelector(
                IPaymentChannels.PaymentChannels_VoucherStale.selector, channelId, 1, 10e6, 10, 10e6, 10
            )
        );
    }

    function test_SettleVouchers_RevertWhen_VoucherOlderOrNotNewerInBothCounters() public {
        _settle(_voucher(consumer.key, channelId, 1, 10e6, 10));
        _expectSettleRevert(
            _voucher(consumer.key, channelId, 1, 9e6, 9),
            abi.encodeWithSelector(
                IPaymentChannels.PaymentChannels_VoucherStale.selector, channelId, 1, 10e6, 10, 9e6, 9
            )
        );
        _expectSettleRevert(
            _voucher(consumer.key, channelId, 1, 10e6, 11),
            abi.encodeWithSelector(
                IPaymentChannels.PaymentChannels_VoucherStale.selector, channelId, 1, 10e6, 10, 10e6, 11
            )
        );
        _expectSettleRevert(
            _voucher(consumer.key, channelId, 1, 11e6, 10),
            abi.encodeWithSelector(
                IPaymentChannels.PaymentChannels_VoucherStale.selector, channelId, 1, 10e6, 10, 11e6, 10
            )
        );
    }

    function test_SettleVouchers_RevertWhen_VoucherSignedForAnotherChain() public {
        SignedVoucher memory v = _voucher(consumer.key, channelId, 1, 1e6, 1);
        v.signature = _sign(
            consumer.key, _voucherDigest(address(channels), block.chainid + 1, channelId, 1, 1e6, 1, v.transcriptHash)
        );
        _expectSettleRevert(
            v,
            abi.encodeWithSelector(
                IPaymentChannels.PaymentChannels_InvalidSignature.selector, channelId, 1, _recovered(v)
            )
        );
    }

    function test_SettleVouchers_RevertWhen_VoucherSignedForAnotherContract() public {
        SignedVoucher memory v = _voucher(consumer.key, channelId, 1, 1e6, 1);
        v.signature = _sign(
            consumer.key, _voucherDigest(address(0xC0FFEE), block.chainid, channelId, 1, 1e6, 1, v.transcriptHash)
        );
        _expectSettleRevert(
            v,
            abi.encodeWithSelector(
                IPaymentChannels.PaymentChannels_InvalidSignature.selector, channelId, 1, _recovered(v)
            )
        );
    }

    function test_SettleVouchers_RevertWhen_VoucherMovedToAnotherLane() public {
        // Signed for model 1, presented for model 2 of the same channel.
        SignedVoucher memory v = _voucher(consumer.key, channelId, 1, 1e6, 1);
        v.modelId = 2;
        _expectSettleRevert(
            v,
            abi.encodeWithSelector(
                IPaymentChannels.PaymentChannels_InvalidSignature.selector, channelId, 2, _recovered(v)
            )
        );
        // Signed for this channel, presented for another channel of the same consumer and runner.
        uint256 second = _open(consumer.addr, runner, DEPOSIT, address(0));
        v = _voucher(consumer.key, channelId, 1, 1e6, 1);
        v.channelId = second;
        _expectSettleRevert(
            v,
            abi.encodeWithSelector(IPaymentChannels.PaymentChannels_InvalidSignature.selector, second, 1, _recovered(v))
        );
    }

    function test_SettleVouchers_RevertWhen_TranscriptOrAmountTampered() public {
        SignedVoucher memory v = _voucher(consumer.key, channelId, 1, 1e6, 1);
        v.cumulativeAmount = 2e6;
        _expectSettleRevert(
            v,
            abi.encodeWithSelector(
                IPaymentChannels.PaymentChannels_InvalidSignature.selector, channelId, 1, _recovered(v)
            )
        );
        v = _voucher(consumer.key, channelId, 1, 1e6, 1);
        v.transcriptHash = bytes32(uint256(1));
        _expectSettleRevert(
            v,
            abi.encodeWithSelector(
                IPaymentChannels.PaymentChannels_InvalidSignature.selector, channelId, 1, _recovered(v)
            )
        );
    }

    function test_SettleVouchers_RevertWhen_SignedByStranger() public {
        Signer memory mallory = _signer("mallory");
        _expectSettleRevert(
            _voucher(mallory.key, channelId, 1, 1e6, 1),
            abi.encodeWithSelector(
                IPaymentChannels.PaymentChannels_InvalidSignature.selector, channelId, 1, mallory.addr
            )
        );
    }

    function test_SettleVouchers_RevertWhen_SignatureMalformedOrMalleable() public {
        SignedVoucher memory v = _voucher(consumer.key, channelId, 1, 1e6, 1);
        (bytes32 r, bytes32 s, uint8 sv) = _split(v.signature);
        // The same signature with s' = n - s and the other v recovers the same key: refused.
        uint256 n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141;
        v.signature = abi.encodePacked(r, bytes32(n - uint256(s)), sv == 27 ? uint8(28) : uint8(27));
        _expectSettleRevert(
            v,
            abi.encodeWithSelector(IPaymentChannels.PaymentChannels_InvalidSignature.selector, channelId, 1, address(0))
        );
        v.signature = abi.encodePacked(r, s); // 64 bytes
        _expectSettleRevert(
            v,
            abi.encodeWithSelector(IPaymentChannels.PaymentChannels_InvalidSignature.selector, channelId, 1, address(0))
        );
    }

    function test_SettleVouchers_RevertWhen_AmountAboveChannelBalance() public {
        _settle(_voucher(consumer.key, channelId, 1, 60e6, 1));
        // Another lane of the same channel cannot take more than the 40e6 left.
        _expectSettleRevert(
            _voucher(consumer.key, channelId, 2, 40e6 + 1, 1),
            abi.encodeWithSelector(
                IPaymentChannels.PaymentChannels_InsufficientBalance.selector, channelId, 40e6, 40e6 + 1
            )
        );
        (, uint256 amount) = _settle(_voucher(consumer.key, channelId, 2, 40e6, 1));
        assertEq(amount, 40e6);
        assertEq(channels.balanceOf(channelId), 0);
    }

    function test_SettleVouchers_RevertWhen_ChallengePeriodEnded() public {
        vm.prank(consumer.addr);
        uint256 closesAt = channels.requestClose(channelId);
        vm.warp(closesAt);
        _expectSettleRevert(
            _voucher(consumer.key, channelId, 1, 1e6, 1),
            abi.encodeWithSelector(IPaymentChannels.PaymentChannels_ChallengePeriodEnded.selector, channelId, closesAt)
        );
    }

    function test_SettleVouchers_RevertWhen_ChannelPaysAnotherRunner() public {
        SignedVoucher[] memory list = _one(_voucher(consumer.key, channelId, 1, 1e6, 1));
        vm.expectRevert(
            abi.encodeWithSelector(
                IPaymentChannels.PaymentChannels_WrongRunner.selector, channelId, runner, otherRunner
            )
        );
        vm.prank(settleCaller);
        channels.settleVouchers(otherRunner, list);
    }

    function test_SettleVouchers_RevertWhen_UnknownChannel() public {
        _expectSettleRevert(
            _voucher(consumer.key, 42, 1, 1e6, 1),
            abi.encodeWithSelector(IPaymentChannels.PaymentChannels_UnknownChannel.selector, 42)
        );
    }

    function test_SettleVouchers_RevertWhen_VouchersNotGroupedByModel() public {
        SignedVoucher[] memory list = new SignedVoucher[](3);
        list[0] = _voucher(consumer.key, channelId, 1, 1e6, 1);
        list[1] = _voucher(consumer.key, channelId, 2, 1e6, 1);
        list[2] = _voucher(consumer.key, channelId, 1, 2e6, 2);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.PaymentChannels_VouchersNotGrouped.selector, 2, 2, 1));
        vm.prank(settleCaller);
        channels.settleVouchers(runner, list);
    }

    function test_SettleVouchers_RevertWhen_NoVouchers() public {
        vm.expectRevert(IPaymentChannels.PaymentChannels_NoVouchers.selector);
        vm.prank(settleCaller);
        channels.settleVouchers(runner, new SignedVoucher[](0));
    }

    function test_SettleVouchers_RevertWhen_CallerLacksSettlementRole() public {
        SignedVoucher[] memory list = _one(_voucher(consumer.key, channelId, 1, 1e6, 1));
        vm.expectRevert(_missingRole(runner, channels.SETTLEMENT_ROLE()));
        vm.prank(runner);
        channels.settleVouchers(runner, list);
    }

    function test_SettleVouchers_RevertWhen_Paused() public {
        vm.prank(admin);
        channels.pause();
        _expectSettleRevert(
            _voucher(consumer.key, channelId, 1, 1e6, 1),
            abi.encodeWithSelector(PausableUpgradeable.EnforcedPause.selector)
        );
    }

    function test_SettleVouchers_AcceptsErc1271ConsumerSignature() public {
        MockERC1271Wallet wallet = new MockERC1271Wallet(consumer.addr);
        uint256 id = _open(address(wallet), runner, DEPOSIT, address(0));
        (, uint256 amount) = _settle(_voucher(consumer.key, id, 1, 1e6, 1));
        assertEq(amount, 1e6);
        Signer memory mallory = _signer("mallory");
        _expectSettleRevert(
            _voucher(mallory.key, id, 1, 2e6, 2),
            abi.encodeWithSelector(IPaymentChannels.PaymentChannels_InvalidSignature.selector, id, 1, mallory.addr)
        );
    }

    function testFuzz_SettleVouchers_PaysExactlyTheIncrease(uint96 first, uint96 second, uint32 c1, uint32 c2) public {
        uint256 a1 = bound(first, 1, DEPOSIT);
        uint256 a2 = bound(second, a1 + 1, DEPOSIT + 1);
        uint64 k1 = uint64(bound(c1, 1, 1e6));
        uint64 k2 = uint64(bound(c2, k1 + 1, 2e6));
        _settle(_voucher(consumer.key, channelId, 1, a1, k1));
        if (a2 > DEPOSIT) {
            _expectSettleRevert(
                _voucher(consumer.key, channelId, 1, a2, k2),
                abi.encodeWithSelector(
                    IPaymentChannels.PaymentChannels_InsufficientBalance.selector, channelId, DEPOSIT - a1, a2 - a1
                )
            );
            return;
        }
        (ModelTotal[] memory totals, uint256 amount) = _settle(_voucher(consumer.key, channelId, 1, a2, k2));
        assertEq(amount, a2 - a1);
        assertEq(totals[0].calls, k2 - k1);
        assertEq(usd.balanceOf(address(channels)) - channels.totalBalance(), a2);
        assertEq(channels.balanceOf(channelId), DEPOSIT - a2);
    }

    function test_PayOut_OnlySettlementPaysFromKeptFunds() public {
        _settle(_voucher(consumer.key, channelId, 1, 5e6, 1));
        vm.expectRevert(_missingRole(stranger, channels.SETTLEMENT_ROLE()));
        vm.prank(stranger);
        channels.payOut(stranger, 1);
        vm.prank(settleCaller);
        channels.payOut(stranger, 5e6);
        assertEq(usd.balanceOf(stranger), 5e6);
        assertEq(usd.balanceOf(address(channels)), channels.totalBalance());
    }

    // ------------------------------------------------------------------ governance

    function test_SetChallengePeriod_OnlyAdminWithinRange() public {
        vm.expectRevert(_missingRole(stranger, channels.DEFAULT_ADMIN_ROLE()));
        vm.prank(stranger);
        channels.setChallengePeriod(2 days);
        vm.startPrank(admin);
        vm.expectRevert(
            abi.encodeWithSelector(IPaymentChannels.PaymentChannels_ChallengePeriodOutOfRange.selector, 31 days)
        );
        channels.setChallengePeriod(31 days);
        vm.expectEmit(address(channels));
        emit IPaymentChannels.ChallengePeriodSet(CHALLENGE_PERIOD, 2 days);
        channels.setChallengePeriod(2 days);
        vm.stopPrank();
        assertEq(channels.challengePeriod(), 2 days);
    }

    function test_Pause_OnlyPauser() public {
        vm.expectRevert(_missingRole(stranger, channels.PAUSER_ROLE()));
        vm.prank(stranger);
        channels.pause();
        vm.prank(admin);
        channels.pause();
        assertTrue(channels.paused());
        vm.expectRevert(_missingRole(stranger, channels.PAUSER_ROLE()));
        vm.prank(stranger);
        channels.unpause();
        vm.prank(admin);
        channels.unpause();
        assertFalse(channels.paused());
    }

    function test_Upgrade_OnlyUpgraderKeepsState() public {
        address impl = address(new PaymentChannels());
        vm.expectRevert(_missingRole(stranger, channels.UPGRADER_ROLE()));
        vm.prank(stranger);
        channels.upgradeToAndCall(impl, "");
        vm.prank(admin);
        channels.upgradeToAndCall(impl, "");
        assertEq(channels.getChannel(channelId).deposited, DEPOSIT);
        assertEq(channels.challengePeriod(), CHALLENGE_PERIOD);
    }

    // ------------------------------------------------------------------ helpers

    function _split(bytes memory sig) internal pure returns (bytes32 r, bytes32 s, uint8 v) {
        assembly {
            r := mload(add(sig, 0x20))
            s := mload(add(sig, 0x40))
            v := byte(0, mload(add(sig, 0x60)))
        }
    }

    /// @dev What the contract recovers from a (possibly tampered) voucher.
    function _recovered(SignedVoucher memory v) internal view returns (address) {
        (bytes32 r, bytes32 s, uint8 sv) = _split(v.signature);
        return ecrecover(
            channels.voucherDigest(v.channelId, v.modelId, v.cumulativeAmount, v.cumulativeCalls, v.transcriptHash),
            sv,
            r,
            s
        );
    }
}
