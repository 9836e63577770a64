// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {CoTrainingShares} from "../../../contracts/CoTrainingShares.sol";
import {ModelRegistry} from "../../../contracts/ModelRegistry.sol";
import {ModelVault} from "../../../contracts/ModelVault.sol";
import {ModelVaultFactory} from "../../../contracts/ModelVaultFactory.sol";
import {PaymentChannels} from "../../../contracts/PaymentChannels.sol";
import {RunnerRegistry} from "../../../contracts/RunnerRegistry.sol";
import {Settlement} from "../../../contracts/Settlement.sol";
import {TestUSD} from "../../../contracts/devnet/TestUSD.sol";
import {IPaymentChannels} from "../../../contracts/interfaces/IPaymentChannels.sol";
import {IRunnerRegistry} from "../../../contracts/interfaces/IRunnerRegistry.sol";
import {PaymentMessages} from "../../../contracts/libraries/PaymentMessages.sol";
import {Batch, ModelTotal, Receipt as CallReceipt, SignedVoucher} from "../../../contracts/types/PaymentTypes.sol";
import {Test} from "forge-std/Test.sol";

/// @notice The deployed protocol, as the handler sees it.
struct Protocol {
    TestUSD usd;
    ModelRegistry registry;
    CoTrainingShares shares;
    ModelVaultFactory factory;
    RunnerRegistry runners;
    PaymentChannels channels;
    Settlement settler;
    address admin;
}

/// @notice A set of named keys.
struct Keys {
    address[] addrs;
    uint256[] keys;
}

/// @notice Drives the whole payment protocol: consumers open, top up, use (sign vouchers), close and
///         withdraw; runners stake, unbond, settle random subsets of the vouchers they hold, claim
///         fees and sometimes equivocate (and get reported); investors deposit and redeem; holders
///         claim and transfer units; an attacker donates tokens; governance pauses and unpauses.
///         Ghost variables record what consumers signed, what they deposited and got back, and
///         whether any withdrawal of owned funds reverted.
contract PaymentsProtocolHandler is Test {
    uint256 internal constant MAX_DEPOSIT = 1e12; // a million tUSD
    uint256 internal constant MAX_CALLS = 50;

    struct LaneGhost {
        uint256 channelId;
        uint256 modelId;
        uint256 signedAmount; // the highest cumulative amount the consumer signed
        uint64 signedCalls;
        bytes32 transcript;
        bytes signature; // of the latest signed voucher
    }

    Protocol internal p;
    Keys internal consumers;
    Keys internal runnerKeys;
    address[] internal holders;
    address[] internal investors;
    uint256[] public modelIds;
    address[] public vaults;

    uint256[] public channelIds;
    mapping(uint256 channelId => uint256) public consumerOf; // index into consumers
    mapping(uint256 channelId => uint256) public ghostDeposited;
    mapping(uint256 channelId => uint256) public ghostSigned; // Σ over the channel's lanes of signedAmount
    mapping(uint256 channelId => uint256) public ghostWithdrawn;
    LaneGhost[] internal lanes;
    mapping(uint256 channelId => mapping(uint256 modelId => uint256)) internal laneSlot; // index + 1

    uint256 public ghostDonated;
    uint256 public ghostSlashedOut;
    uint256 public equivocationNonce;
    uint256 public ghostBatches;
    uint256 public ghostLanesSettled;
    uint256 public ghostWithdrawals;
    bool public ownedWithdrawalReverted;
    string public revertedWithdrawal;
    bool public withdrawalMismatch;
    mapping(bytes32 selector => uint256) public calls;

    /// @dev A depositor who only ever enters empty vaults, to collect revenue that arrived before.
    struct Snipe {
        uint256 deposited;
        uint256 shares;
        uint256 revenueAtEntry; // the vault's totalRevenue when the sniper deposited
    }

    address public immutable sniper = makeAddr("sniper");
    mapping(address vault => Snipe) public snipes;
    uint256 public ghostSnipes;
    bool public earlierRevenueCaptured;

    constructor(
        Protocol memory protocol,
        Keys memory consumers_,
        Keys memory runners_,
        address[] memory holders_,
        address[] memory investors_,
        uint256[] memory modelIds_,
        address[] memory vaults_
    ) {
        p = protocol;
        consumers = consumers_;
        runnerKeys = runners_;
        holders = holders_;
        investors = investors_;
        modelIds = modelIds_;
        vaults = vaults_;
    }

    modifier counted(string memory name) {
        calls[keccak256(bytes(name))]++;
        _;
    }

    // ------------------------------------------------------------------ views for the invariants

    function laneCount() external view returns (uint256) {
        return lanes.length;
    }

    function laneAt(uint256 i)
        external
        view
        returns (uint256 channelId, uint256 modelId, uint256 signed, uint64 calls_)
    {
        LaneGhost storage l = lanes[i];
        return (l.channelId, l.modelId, l.signedAmount, l.signedCalls);
    }

    function channelCount() external view returns (uint256) {
        return channelIds.length;
    }

    // ------------------------------------------------------------------ consumers

    function open(uint256 consumerSeed, uint256 runnerSeed, uint256 amount, bool withSessionKey)
        external
        counted("open")
    {
        if (p.channels.paused()) return;
        uint256 c = consumerSeed % consumers.addrs.length;
        address consumer = consumers.addrs[c];
        address runner = runnerKeys.addrs[runnerSeed % runnerKeys.addrs.length];
        amount = bound(amount, 1, MAX_DEPOSIT);
        p.usd.mint(consumer, amount);
        vm.startPrank(consumer);
        p.usd.approve(address(p.channels), amount);
        // The session key is the next consumer's key: any authorised key may sign.
        address sessionKey = withSessionKey ? consumers.addrs[(c + 1) % consumers.addrs.length] : address(0);
        uint256 id = p.channels.open(runner, amount, sessionKey);
        vm.stopPrank();
        channelIds.push(id);
        consumerOf[id] = c;
        ghostDeposited[id] = amount;
    }

    function topUp(uint256 channelSeed, uint256 amount) external counted("topUp") {
        if (channelIds.length == 0 || p.channels.paused()) return;
        uint256 id = channelIds[channelSeed % channelIds.length];
        IPaymentChannels.Channel memory c = p.channels.getChannel(id);
        // forge-lint: disable-next-line(block-timestamp)
        if (c.withdrawn || (c.closesAt != 0 && block.timestamp >= c.closesAt)) return;
        amount = bound(amount, 1, MAX_DEPOSIT);
        p.usd.mint(c.consumer, amount);
        vm.startPrank(c.consumer);
        p.usd.approve(address(p.channels), amount);
        p.channels.topUp(id, amount);
        vm.stopPrank();
        ghostDeposited[id] += amount;
    }

    /// @dev The consumer pays for `callCount` calls of a model: it signs the lane's next voucher.
    ///      Consumers sign only what their deposit covers (as the SDK does).
    function useModel(uint256 channelSeed, uint256 modelSeed, uint256 callCount, bool bySessionKey)
        external
        counted("useModel")
    {
        if (channelIds.length == 0) return;
        uint256 id = channelIds[channelSeed % channelIds.length];
        IPaymentChannels.Channel memory c = p.channels.getChannel(id);
        if (c.withdrawn || c.closesAt != 0) return;
        uint256 modelId = modelIds[modelSeed % modelIds.length];
        uint256 price = p.registry.getModelTerms(modelId).pricePerCall;
        uint256 room = ghostDeposited[id] - ghostSigned[id];
        uint256 maxCalls = room / price;
        if (maxCalls == 0) return;
        uint64 n = uint64(bound(callCount, 1, maxCalls < MAX_CALLS ? maxCalls : MAX_CALLS));

        LaneGhost storage lane = _lane(id, modelId);
        bytes32 transcript = lane.transcript;
        for (uint64 k = 1; k <= n; ++k) {
            uint64 callIndex = lane.signedCalls + k;
            transcript = PaymentMessages.extendTranscript(
                transcript, PaymentMessages.requestHash(id, modelId, callIndex, keccak256(abi.encode(callIndex)))
            );
        }
        lane.signedAmount += n * price;
        lane.signedCalls += n;
        lane.transcript = transcript;
        ghostSigned[id] += n * price;
        uint256 key = consumers.keys[consumerOf[id]];
        if (bySessionKey && c.sessionKey != address(0)) {
            key = consumers.keys[(consumerOf[id] + 1) % consumers.keys.length];
        }
        bytes32 digest = p.channels.voucherDigest(id, modelId, lane.signedAmount, lane.signedCalls, lane.transcript);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        lane.signature = abi.encodePacked(r, s, v);
    }

    /// @dev Consumers close one time in four they are picked, so that lanes keep getting used.
    function requestClose(uint256 channelSeed, uint256 closeSeed) external counted("requestClose") {
        if (channelIds.length == 0 || closeSeed % 4 != 0) return;
        uint256 id = channelIds[channelSeed % channelIds.length];
        IPaymentChannels.Channel memory c = p.channels.getChannel(id);
        if (c.withdrawn || c.closesAt != 0) return;
        vm.prank(c.consumer);
        p.channels.requestClose(id);
    }

    /// @dev (c): once the challenge period is over the consumer gets exactly deposit − paid, paused or not.
    function withdraw(uint256 channelSeed) external counted("withdraw") {
        if (channelIds.length == 0) return;
        uint256 id = channelIds[channelSeed % channelIds.length];
        IPaymentChannels.Channel memory c = p.channels.getChannel(id);
        // forge-lint: disable-next-line(block-timestamp)
        if (c.withdrawn || c.closesAt == 0 || block.timestamp < c.closesAt) return;
        uint256 before = p.usd.balanceOf(c.consumer);
        vm.prank(c.consumer);
        try p.channels.withdraw(id) returns (uint256 amount) {
            uint256 received = p.usd.balanceOf(c.consumer) - before;
            if (received != amount || received != ghostDeposited[id] - c.paid) withdrawalMismatch = true;
            ghostWithdrawn[id] = received;
            ghostWithdrawals++;
        } catch {
            _blocked("channel withdraw");
        }
    }

    // ------------------------------------------------------------------ runners

    /// @dev A runner settles a random subset of the lanes it holds unsettled vouchers for (all of
    ///      them when the subset comes out empty). The runner is the one of a random lane.
    function settle(uint256 laneSeed, uint256 mask) external counted("settle") {
        if (lanes.length == 0 || p.settler.paused() || p.channels.paused()) return;
        address runner = p.channels.getChannel(lanes[laneSeed % lanes.length].channelId).runner;
        if (!p.runners.isActive(runner)) return;
        uint256[] memory picked = new uint256[](lanes.length);
        uint256 n = _settleable(runner, mask, picked);
        if (n == 0) n = _settleable(runner, type(uint256).max, picked);
        if (n == 0) return;
        // Group by model (insertion sort on model id), as the batch format requires.
        for (uint256 i = 1; i < n; ++i) {
            for (uint256 j = i; j > 0 && lanes[picked[j - 1]].modelId > lanes[picked[j]].modelId; --j) {
                (picked[j - 1], picked[j]) = (picked[j], picked[j - 1]);
            }
        }
        Batch memory batch;
        batch.vouchers = new SignedVoucher[](n);
        ModelTotal[] memory totals = new ModelTotal[](n);
        uint256 models;
        for (uint256 i; i < n; ++i) {
            LaneGhost storage l = lanes[picked[i]];
            IPaymentChannels.Lane memory paid = p.channels.getLane(l.channelId, l.modelId);
            batch.vouchers[i] = SignedVoucher({
                channelId: l.channelId,
                modelId: l.modelId,
                cumulativeAmount: l.signedAmount,
                cumulativeCalls: l.signedCalls,
                transcriptHash: l.transcript,
                signature: l.signature
            });
            if (models == 0 || totals[models - 1].modelId != l.modelId) totals[models++].modelId = l.modelId;
            totals[models - 1].calls += l.signedCalls - paid.paidCalls;
            totals[models - 1].amount += l.signedAmount - paid.paidAmount;
        }
        assembly {
            mstore(totals, models)
        }
        batch.totals = totals;
        batch.receiptsRoot = keccak256(abi.encode("receipts", runner, block.timestamp, mask));
        vm.prank(runner);
        p.settler.settle(batch);
        ghostBatches++;
        ghostLanesSettled += n;
    }

    function _settleable(address runner, uint256 mask, uint256[] memory picked) internal view returns (uint256 n) {
        for (uint256 i; i < lanes.length; ++i) {
            if ((mask >> (i % 256)) & 1 == 0) continue;
            LaneGhost storage l = lanes[i];
            IPaymentChannels.Channel memory c = p.channels.getChannel(l.channelId);
            // forge-lint: disable-next-line(block-timestamp)
            if (c.runner != runner || c.withdrawn || (c.closesAt != 0 && block.timestamp >= c.closesAt)) continue;
            if (l.signedAmount <= p.channels.getLane(l.channelId, l.modelId).paidAmount) continue;
            picked[n++] = i;
        }
    }

    function stake(uint256 runnerSeed, uint256 amount) external counted("stake") {
        if (p.runners.paused()) return;
        address runner = runnerKeys.addrs[runnerSeed % runnerKeys.addrs.length];
        amount = bound(amount, 1, 2000e6);
        p.usd.mint(runner, amount);
        vm.startPrank(runner);
        p.usd.approve(address(p.runners), amount);
        p.runners.stake(runner, amount);
        vm.stopPrank();
    }

    function requestUnbond(uint256 runnerSeed, uint256 amount) external counted("requestUnbond") {
        address runner = runnerKeys.addrs[runnerSeed % runnerKeys.addrs.length];
        uint256 bond = p.runners.getRunner(runner).bond;
        if (bond < 4) return;
        // A quarter of the bond at most, so that runners mostly stay active and keep settling.
        amount = bound(amount, 1, bond / 4);
        vm.prank(runner);
        p.runners.requestUnbond(amount);
    }

    function withdrawUnbonded(uint256 runnerSeed) external counted("withdrawUnbonded") {
        address runner = runnerKeys.addrs[runnerSeed % runnerKeys.addrs.length];
        IRunnerRegistry.Runner memory info = p.runners.getRunner(runner);
        // forge-lint: disable-next-line(block-timestamp)
        if (info.unbonding == 0 || block.timestamp < info.unbondingAvailableAt) return;
        vm.prank(runner);
        try p.runners.withdrawUnbonded() {}
        catch {
            _blocked("unbonded stake");
        }
    }

    function claimRunnerFees(uint256 runnerSeed) external counted("claimRunnerFees") {
        address runner = runnerKeys.addrs[runnerSeed % runnerKeys.addrs.length];
        vm.prank(runner);
        try p.settler.claimRunnerFees(runner) {}
        catch {
            _blocked("runner fees");
        }
    }

    function withdrawProtocolFees() external counted("withdrawProtocolFees") {
        try p.settler.withdrawProtocolFees() {}
        catch {
            _blocked("protocol fees");
        }
    }

    /// @dev The runner signs two different outputs for one request; a reporter shows both.
    function equivocate(uint256 runnerSeed, uint256 reporterSeed) external counted("equivocate") {
        uint256 r = runnerSeed % runnerKeys.addrs.length;
        address runner = runnerKeys.addrs[r];
        // Rarer than other actions: each report takes a share of the runner's whole stake.
        if (reporterSeed % 8 != 0) return;
        IRunnerRegistry.Runner memory info = p.runners.getRunner(runner);
        if (uint256(info.bond) + info.unbonding < 10_000) return; // nothing meaningful to slash
        // forge-lint: disable-next-line(unsafe-typecast)
        uint64 callIndex = uint64(++equivocationNonce);
        CallReceipt memory a = CallReceipt({
            requestHash: PaymentMessages.requestHash(0, modelIds[0], callIndex, keccak256("body")),
            modelId: modelIds[0],
            adapterHash: keccak256("adapter"),
            outputHash: keccak256("output a"),
            channelId: 0,
            callIndex: callIndex
        });
        CallReceipt memory b = CallReceipt({
            requestHash: a.requestHash,
            modelId: a.modelId,
            adapterHash: a.adapterHash,
            outputHash: keccak256("output b"),
            channelId: a.channelId,
            callIndex: a.callIndex
        });
        bytes memory sigA = _signReceipt(runnerKeys.keys[r], a);
        bytes memory sigB = _signReceipt(runnerKeys.keys[r], b);
        address reporter = holders[reporterSeed % holders.length];
        vm.prank(reporter);
        ghostSlashedOut += p.settler.reportEquivocation(runner, a, sigA, b, sigB);
    }

    // ------------------------------------------------------------------ investors and holders

    function deposit(uint256 investorSeed, uint256 vaultSeed, uint256 amount) external counted("deposit") {
        if (p.factory.paused()) return;
        address investor = investors[investorSeed % investors.length];
        ModelVault vault = ModelVault(vaults[vaultSeed % vaults.length]);
        amount = bound(amount, 1, MAX_DEPOSIT);
        p.usd.mint(investor, amount);
        vm.startPrank(investor);
        p.usd.approve(address(vault), amount);
        vault.deposit(amount, investor);
        vm.stopPrank();
    }

    function redeem(uint256 investorSeed, uint256 vaultSeed, uint256 fraction) external counted("redeem") {
        address investor = investors[investorSeed % investors.length];
        ModelVault vault = ModelVault(vaults[vaultSeed % vaults.length]);
        uint256 sharesOwned = vault.balanceOf(investor);
        uint256 amount = sharesOwned * bound(fraction, 1, 100) / 100;
        if (amount == 0 || vault.previewRedeem(amount) == 0) return;
        vm.prank(investor);
        try vault.redeem(amount, investor, investor) {}
        catch {
            _blocked("vault redeem");
        }
    }

    /// @dev The attack of issue 21 item 10: deposit a little into a vault nobody backs, hoping to
    ///      collect revenue settled before, as it unlocks.
    function snipeEmptyVault(uint256 vaultSeed, uint256 amount) external counted("snipeEmptyVault") {
        ModelVault vault = ModelVault(vaults[vaultSeed % vaults.length]);
        if (p.factory.paused() || vault.totalSupply() != 0) return;
        amount = bound(amount, 1, 1e6);
        p.usd.mint(sniper, amount);
        vm.startPrank(sniper);
        p.usd.approve(address(vault), amount);
        uint256 minted = vault.deposit(amount, sniper);
        vm.stopPrank();
        Snipe storage s = snipes[address(vault)];
        s.deposited += amount;
        s.shares += minted;
        if (s.revenueAtEntry == 0) s.revenueAtEntry = vault.totalRevenue();
        ghostSnipes++;
    }

    /// @dev The sniper leaves with everything: never more than it put in plus the revenue the vault
    ///      received after it entered.
    function sniperExit(uint256 vaultSeed) external counted("sniperExit") {
        ModelVault vault = ModelVault(vaults[vaultSeed % vaults.length]);
        Snipe memory s = snipes[address(vault)];
        if (s.shares == 0) return;
        delete snipes[address(vault)];
        vm.prank(sniper);
        try vault.redeem(s.shares, sniper, sniper) returns (uint256 out) {
            if (out > s.deposited + vault.totalRevenue() - s.revenueAtEntry) earlierRevenueCaptured = true;
        } catch {
            _blocked("sniper redeem");
        }
    }

    /// @dev Anyone moves a model's pending revenue into its vault and to its holders.
    function flush(uint256 modelSeed) external counted("flush") {
        p.settler.flush(modelIds[modelSeed % modelIds.length]);
    }

    function claim(uint256 holderSeed, uint256 modelSeed) external counted("claim") {
        address holder = holders[holderSeed % holders.length];
        vm.prank(holder);
        try p.shares.claim(modelIds[modelSeed % modelIds.length]) {}
        catch {
            _blocked("holder claim");
        }
    }

    function transferUnits(uint256 holderSeed, uint256 modelSeed, uint256 toSeed, uint256 units)
        external
        counted("transferUnits")
    {
        if (p.shares.paused()) return;
        address from = holders[holderSeed % holders.length];
        address to = holders[toSeed % holders.length];
        uint256 modelId = modelIds[modelSeed % modelIds.length];
        uint256 held = p.shares.unitsOf(modelId, from);
        if (from == to || held == 0) return;
        units = bound(units, 1, held);
        vm.prank(from);
        p.shares.transferUnits(modelId, to, units);
    }

    // ------------------------------------------------------------------ attacker, governance, time

    /// @dev Tokens sent straight to a protocol contract: they must never count as owed.
    function donate(uint256 targetSeed, uint256 amount) external counted("donate") {
        address[4] memory targets = [address(p.channels), address(p.runners), address(p.settler), address(p.shares)];
        uint256 t = targetSeed % (targets.length + vaults.length);
        address target = t < targets.length ? targets[t] : vaults[t - targets.length];
        amount = bound(amount, 1, 1e9);
        p.usd.mint(target, amount);
        ghostDonated += amount;
    }

    /// @dev Pauses one contract (one time in three) or unpauses it.
    function togglePause(uint256 which, uint256 pauseSeed) external counted("togglePause") {
        bool pause = pauseSeed % 3 == 0;
        vm.startPrank(p.admin);
        which %= 5;
        if (which == 0 && pause != p.settler.paused()) pause ? p.settler.pause() : p.settler.unpause();
        else if (which == 1 && pause != p.channels.paused()) pause ? p.channels.pause() : p.channels.unpause();
        else if (which == 2 && pause != p.runners.paused()) pause ? p.runners.pause() : p.runners.unpause();
        else if (which == 3 && pause != p.shares.paused()) pause ? p.shares.pause() : p.shares.unpause();
        else if (which == 4 && pause != p.factory.paused()) pause ? p.factory.pause() : p.factory.unpause();
        vm.stopPrank();
    }

    function warp(uint256 seconds_) external counted("warp") {
        vm.warp(block.timestamp + bound(seconds_, 1, 2 days));
    }

    // ------------------------------------------------------------------ internals

    function _lane(uint256 channelId, uint256 modelId) internal returns (LaneGhost storage) {
        uint256 slot = laneSlot[channelId][modelId];
        if (slot == 0) {
            lanes.push();
            slot = lanes.length;
            laneSlot[channelId][modelId] = slot;
            lanes[slot - 1].channelId = channelId;
            lanes[slot - 1].modelId = modelId;
        }
        return lanes[slot - 1];
    }

    function _blocked(string memory what) internal {
        ownedWithdrawalReverted = true;
        revertedWithdrawal = what;
    }

    function _signReceipt(uint256 key, CallReceipt memory r) internal view returns (bytes memory) {
        (uint8 v, bytes32 rr, bytes32 s) = vm.sign(key, p.settler.receiptDigest(r));
        return abi.encodePacked(rr, s, v);
    }
}
