// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {ModelVault} from "../../contracts/ModelVault.sol";
import {IModelRegistry} from "../../contracts/interfaces/IModelRegistry.sol";
import {IPaymentChannels} from "../../contracts/interfaces/IPaymentChannels.sol";
import {PaymentsFixture} from "../integration/PaymentsFixture.sol";
import {Keys, PaymentsProtocolHandler, Protocol} from "./handlers/PaymentsProtocolHandler.sol";
import {console} from "forge-std/Test.sol";

/// @notice Invariants of the whole payment protocol — channels, runner bonds, settlement, usage
///         counters, fees, co-training shares and vaults — under consumers, runners, investors,
///         holders, an attacker who donates tokens, pauses and time.
contract PaymentsProtocolInvariantTest is PaymentsFixture {
    PaymentsProtocolHandler internal handler;
    uint256[] internal modelIds;
    address[] internal vaultList;
    address[] internal runnerList;

    function setUp() public override {
        super.setUp();
        Keys memory consumerKeys = _keys("consumer", 3);
        Keys memory runnerKeys = _keys("runner", 2);
        Keys memory holderKeys = _keys("holder", 4);
        for (uint256 i; i < runnerKeys.addrs.length; ++i) {
            _registerRunner(runnerKeys.addrs[i], uint16(500 * (i + 1)), MIN_BOND * 2);
            runnerList.push(runnerKeys.addrs[i]);
        }
        // Model 0: holders 0 and 1; model 1: holders 1, 2 and 3; model 2: holder 2 alone.
        _model(holderKeys, 0, _pick(0, 1, type(uint256).max), keccak256("m0"));
        _model(holderKeys, 1, _pick(1, 2, 3), keccak256("m1"));
        _model(holderKeys, 2, _pick(2, type(uint256).max, type(uint256).max), keccak256("m2"));

        address[] memory investors = new address[](3);
        for (uint256 i; i < investors.length; ++i) {
            investors[i] = makeAddr(string.concat("investor", vm.toString(i)));
        }
        handler = new PaymentsProtocolHandler(
            Protocol({
                usd: usd,
                registry: registry,
                shares: shares,
                factory: factory,
                runners: runners,
                channels: channels,
                settler: settler,
                admin: admin
            }),
            consumerKeys,
            runnerKeys,
            holderKeys.addrs,
            investors,
            modelIds,
            vaultList
        );
        usd.transferOwnership(address(handler)); // the handler mints test tokens
        // Every consumer starts with a channel to every runner, with some calls paid by voucher.
        for (uint256 c; c < consumerKeys.addrs.length; ++c) {
            for (uint256 r; r < runnerKeys.addrs.length; ++r) {
                handler.open(c, r, 1000e6, c == 0);
                handler.useModel(handler.channelCount() - 1, c + r, 10, false);
            }
        }
        targetContract(address(handler));
    }

    function _keys(string memory prefix, uint256 n) internal returns (Keys memory k) {
        k.addrs = new address[](n);
        k.keys = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            Signer memory s = _signer(string.concat(prefix, vm.toString(i)));
            k.addrs[i] = s.addr;
            k.keys[i] = s.key;
        }
    }

    function _pick(uint256 a, uint256 b, uint256 c) internal pure returns (uint256[3] memory) {
        return [a, b, c];
    }

    function _model(Keys memory holders, uint256 owner, uint256[3] memory who, bytes32 adapter) internal {
        uint256 n;
        for (uint256 i; i < 3; ++i) {
            if (who[i] != type(uint256).max) n++;
        }
        Signer[] memory signers = new Signer[](n);
        uint256[] memory units = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            signers[i] = Signer({addr: holders.addrs[who[i]], key: holders.keys[who[i]]});
            units[i] = 10 * (i + 1);
        }
        (uint256 modelId, address vault) = _register(holders.addrs[owner], adapter, signers, units);
        modelIds.push(modelId);
        vaultList.push(vault);
    }

    // ------------------------------------------------------------------ invariants

    /// INV-A: the payment asset held by the protocol's contracts equals, exactly, channel balances
    ///        + runner bonds and unbonding stake + fees not yet paid out + rewards not yet claimed +
    ///        vault assets (deposits and revenue, unlocked or not) + what was donated to them.
    function invariant_A_AssetHeldEqualsOwedPlusDonations() public view {
        assertEq(_held(vaultList), _owed(vaultList) + handler.ghostDonated());
    }

    /// INV-B: no lane is ever paid more (amount or calls) than its consumer signed.
    function invariant_B_NoLanePaidMoreThanSigned() public view {
        for (uint256 i; i < handler.laneCount(); ++i) {
            (uint256 channelId, uint256 modelId, uint256 signed, uint64 signedCalls) = handler.laneAt(i);
            IPaymentChannels.Lane memory lane = channels.getLane(channelId, modelId);
            assertLe(lane.paidAmount, signed);
            assertLe(lane.paidCalls, signedCalls);
        }
    }

    /// INV-C: a consumer always gets back exactly deposit − paid after close, and a channel's paid
    ///        amount is the sum of its lanes'.
    function invariant_C_ConsumerRecoversDepositMinusPaid() public view {
        assertFalse(handler.withdrawalMismatch(), "a withdrawal paid other than deposit - paid");
        uint256 lanesCount = handler.laneCount();
        for (uint256 c; c < handler.channelCount(); ++c) {
            uint256 id = handler.channelIds(c);
            IPaymentChannels.Channel memory ch = channels.getChannel(id);
            assertEq(ch.deposited, handler.ghostDeposited(id));
            uint256 lanePaid;
            for (uint256 i; i < lanesCount; ++i) {
                (uint256 channelId, uint256 modelId,,) = handler.laneAt(i);
                if (channelId == id) lanePaid += channels.getLane(id, modelId).paidAmount;
            }
            assertEq(ch.paid, lanePaid);
            if (ch.withdrawn) assertEq(handler.ghostWithdrawn(id), ch.deposited - ch.paid);
        }
    }

    /// INV-D: the channels' total balance is the sum of what each channel holds.
    function invariant_D_ChannelBooksAddUp() public view {
        uint256 sum;
        for (uint256 c; c < handler.channelCount(); ++c) {
            sum += channels.balanceOf(handler.channelIds(c));
        }
        assertEq(channels.totalBalance(), sum);
    }

    /// INV-E: every model's on-chain usage equals what its lanes paid (calls and revenue): nothing
    ///        paid is unattributed, nothing attributed is unpaid.
    function invariant_E_UsageEqualsPaid() public view {
        for (uint256 m; m < modelIds.length; ++m) {
            uint256 calls;
            uint256 revenue;
            for (uint256 i; i < handler.laneCount(); ++i) {
                (uint256 channelId, uint256 modelId,,) = handler.laneAt(i);
                if (modelId != modelIds[m]) continue;
                IPaymentChannels.Lane memory lane = channels.getLane(channelId, modelId);
                calls += lane.paidCalls;
                revenue += lane.paidAmount;
            }
            // Usage is in the registry once flushed, in Settlement until then.
            IModelRegistry.Model memory model = registry.getModel(modelIds[m]);
            (uint256 pendingCalls, uint256 pendingRevenue,) = settler.pendingOf(modelIds[m]);
            assertEq(model.totalCalls + pendingCalls, calls);
            assertEq(model.totalRevenue + pendingRevenue, revenue);
        }
    }

    /// INV-F: every settled unit went to exactly one of protocol fees, runner fees, a vault or a
    ///        model's holders, or waits in Settlement's pending net for a flush (revenue a vault
    ///        released to the holders when it emptied counts once).
    function invariant_F_RevenueSplitAccountsForEverything() public view {
        uint256 revenue;
        uint256 toVaults;
        uint256 toHolders;
        for (uint256 m; m < modelIds.length; ++m) {
            // Revenue not yet flushed: its gross in Settlement's pending, its net not yet split.
            (, uint256 pendingRevenue, uint256 pendingNet) = settler.pendingOf(modelIds[m]);
            revenue += registry.getModel(modelIds[m]).totalRevenue + pendingRevenue;
            toHolders += pendingNet;
            // What a vault released to the holders when it emptied is in both of these: count it once.
            toVaults += ModelVault(vaultList[m]).totalRevenue() - ModelVault(vaultList[m]).releasedRevenue();
            toHolders += shares.totalCredited(modelIds[m]);
        }
        uint256 fees = settler.protocolFeesAccrued() + settler.protocolFeesWithdrawn();
        for (uint256 r; r < runnerList.length; ++r) {
            fees += settler.runnerFeesAccrued(runnerList[r]) + settler.runnerFeesClaimed(runnerList[r]);
        }
        assertEq(fees + toVaults + toHolders, revenue);
    }

    /// INV-G: withdrawing what one owns (closed channel, unbonded stake, fees, rewards, vault
    ///        shares) never reverts, whatever is paused.
    function invariant_G_OwnedWithdrawalsNeverRevert() public view {
        assertFalse(handler.ownedWithdrawalReverted(), handler.revertedWithdrawal());
    }

    /// INV-H: revenue never waits in an empty vault: a vault without shares holds no locked revenue,
    ///        and a depositor who entered an empty vault never takes out more than it put in plus the
    ///        revenue the vault received after it entered.
    function invariant_H_EmptyVaultRevenueNotCapturable() public view {
        for (uint256 m; m < vaultList.length; ++m) {
            ModelVault v = ModelVault(vaultList[m]);
            if (v.totalSupply() == 0) assertEq(v.lockedRevenue(), 0, "locked revenue in an empty vault");
        }
        assertFalse(handler.earlierRevenueCaptured(), "a depositor collected revenue from before its deposit");
    }

    function afterInvariant() external view {
        string[20] memory names = [
            "flush",
            "open",
            "topUp",
            "useModel",
            "requestClose",
            "withdraw",
            "settle",
            "stake",
            "requestUnbond",
            "withdrawUnbonded",
            "claimRunnerFees",
            "withdrawProtocolFees",
            "equivocate",
            "deposit",
            "redeem",
            "claim",
            "transferUnits",
            "donate",
            "snipeEmptyVault",
            "sniperExit"
        ];
        for (uint256 i; i < names.length; ++i) {
            console.log(names[i], handler.calls(keccak256(bytes(names[i]))));
        }
        console.log("lanes", handler.laneCount(), "channels", handler.channelCount());
        console.log("batches settled", handler.ghostBatches(), "lanes settled", handler.ghostLanesSettled());
        console.log("channels withdrawn", handler.ghostWithdrawals(), "slashed out", handler.ghostSlashedOut());
        console.log("empty vaults sniped", handler.ghostSnipes());
    }
}
