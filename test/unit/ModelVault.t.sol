// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {ModelVault} from "../../contracts/ModelVault.sol";
import {IModelVault} from "../../contracts/interfaces/IModelVault.sol";
import {ProtocolFixture} from "../utils/ProtocolFixture.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {ERC4626Upgradeable} from "@openzeppelin/contracts-upgradeable/token/ERC20/extensions/ERC4626Upgradeable.sol";

contract ModelVaultTest is ProtocolFixture {
    uint256 internal constant USD = 1e6;
    address internal alice = makeAddr("alice");
    address internal bob = makeAddr("bob");
    address internal eve = makeAddr("eve");
    ModelVault internal vault;
    uint256 internal modelId;

    function setUp() public override {
        super.setUp();
        modelId = _registerSolo(alice, keccak256("adapter"), 1);
        vault = ModelVault(factory.vaultOf(modelId));
    }

    function _price() internal view returns (uint256) {
        return vault.convertToAssets(1e18);
    }

    // ------------------------------------------------------------------ setup

    function test_Initialize_SetsMetadataAssetAndModel() public view {
        assertEq(vault.name(), "OpenLoRA Model #1 Vault");
        assertEq(vault.symbol(), "olVAULT-1");
        assertEq(vault.decimals(), 12, "6-decimal asset + 6 decimals of virtual-share offset");
        assertEq(vault.asset(), address(usd));
        assertEq(vault.modelId(), modelId);
        assertEq(vault.factory(), address(factory));
        assertEq(vault.totalAssets(), 0);
        assertEq(vault.lockedRevenue(), 0);
    }

    function test_Initialize_RevertWhen_CalledAgain() public {
        vm.expectRevert(Initializable.InvalidInitialization.selector);
        vault.initialize(address(usd), address(factory), 9, "x", "x");
    }

    function test_Initialize_RevertWhen_CalledOnImplementation() public {
        vm.expectRevert(Initializable.InvalidInitialization.selector);
        vaultImplementation.initialize(address(usd), address(factory), 9, "x", "x");
    }

    // ------------------------------------------------------------------ deposits and withdrawals

    function test_Deposit_MintsSharesAtInitialRate() public {
        uint256 minted = _deposit(vault, bob, 1000 * USD);
        assertEq(minted, 1000 * USD * 1e6);
        assertEq(vault.balanceOf(bob), minted);
        assertEq(vault.totalAssets(), 1000 * USD);
        assertEq(vault.accountedAssets(), 1000 * USD);
        assertEq(vault.maxWithdraw(bob), 1000 * USD);
    }

    function test_MintWithdrawRedeem_RoundTrip() public {
        usd.mint(bob, 500 * USD);
        vm.startPrank(bob);
        usd.approve(address(vault), 500 * USD);
        uint256 paid = vault.mint(300 * USD * 1e6, bob);
        assertEq(paid, 300 * USD);
        uint256 burned = vault.withdraw(100 * USD, bob, bob);
        assertEq(burned, 100 * USD * 1e6);
        uint256 out = vault.redeem(vault.balanceOf(bob), bob, bob);
        assertEq(out, 200 * USD);
        vm.stopPrank();
        assertEq(usd.balanceOf(bob), 500 * USD);
        assertEq(vault.totalSupply(), 0);
        assertEq(vault.totalAssets(), 0);
    }

    function test_Withdraw_ByApprovedSpender() public {
        _deposit(vault, bob, 100 * USD);
        vm.prank(bob);
        vault.approve(eve, 50 * USD * 1e6);
        vm.prank(eve);
        vault.withdraw(50 * USD, eve, bob);
        assertEq(usd.balanceOf(eve), 50 * USD);
        vm.expectRevert();
        vm.prank(eve);
        vault.withdraw(1, eve, bob);
    }

    // ------------------------------------------------------------------ revenue

    function test_ReceiveRevenue_UnlocksLinearlyOverThePeriod() public {
        _deposit(vault, bob, 1000 * USD);
        usd.mint(address(vault), 700 * USD);
        vm.expectEmit(address(vault));
        emit IModelVault.RevenueReceived(modelId, 700 * USD, 700 * USD, block.timestamp + 7 days, 700 * USD);
        vm.prank(settlement);
        vault.receiveRevenue(700 * USD);

        assertEq(vault.totalAssets(), 1000 * USD, "nothing unlocked at arrival");
        assertEq(vault.lockedRevenue(), 700 * USD);
        assertEq(vault.unlockEnd(), block.timestamp + 7 days);
        assertEq(vault.accountedAssets(), 1700 * USD);
        vm.warp(block.timestamp + 1 days);
        assertEq(vault.totalAssets(), 1100 * USD);
        assertEq(vault.lockedRevenue(), 600 * USD);
        vm.warp(block.timestamp + 6 days);
        assertEq(vault.totalAssets(), 1700 * USD);
        assertEq(vault.lockedRevenue(), 0);
        vm.warp(block.timestamp + 30 days);
        assertEq(vault.totalAssets(), 1700 * USD);
        uint256 bobShares = vault.balanceOf(bob);
        vm.prank(bob);
        assertEq(vault.redeem(bobShares, bob, bob), 1700 * USD - 1, "the virtual shares keep 1 unit");
        assertEq(vault.totalRevenue(), 700 * USD);
    }

    function test_ReceiveRevenue_MergesWithLockedByWeightedDuration() public {
        _deposit(vault, bob, 1000 * USD);
        _payVault(vault, 700 * USD);
        uint256 start = block.timestamp;
        vm.warp(start + 3.5 days); // 350 unlocked, 350 still locked with 3.5 days to go
        assertEq(vault.totalAssets(), 1350 * USD);
        _payVault(vault, 350 * USD);
        // (350 × 3.5 days + 350 × 7 days) / 700 = 5.25 days
        assertEq(vault.unlockEnd(), block.timestamp + 5.25 days);
        assertEq(vault.lockedRevenue(), 700 * USD);
        assertEq(vault.totalAssets(), 1350 * USD, "arrival does not move the price");
        vm.warp(block.timestamp + 5.25 days);
        assertEq(vault.totalAssets(), 2050 * USD);
        assertEq(vault.totalRevenue(), 1050 * USD);
    }

    function test_ReceiveRevenue_CannotBeSandwiched() public {
        _deposit(vault, bob, 1000 * USD);
        // eve deposits just before a large revenue arrival and redeems just after.
        uint256 eveShares = _deposit(vault, eve, 1000 * USD);
        _payVault(vault, 10_000 * USD);
        vm.prank(eve);
        uint256 out = vault.redeem(eveShares, eve, eve);
        assertLe(out, 1000 * USD, "no profit in the same block");
        // One block later the gain is at most what unlocked in those 12 seconds (of 20,000 locked).
        uint256 again = _deposit(vault, eve, 1000 * USD);
        _payVault(vault, 10_000 * USD);
        vm.warp(block.timestamp + 12);
        vm.prank(eve);
        out = vault.redeem(again, eve, eve);
        uint256 unlockedIn12s = 20_000 * USD * 12 / uint256(7 days);
        assertLe(out, 1000 * USD + unlockedIn12s);
    }

    function test_ReceiveRevenue_RevertWhen_VaultHasNoShares() public {
        usd.mint(address(vault), 700 * USD);
        vm.expectRevert(IModelVault.ModelVault_NoShares.selector);
        vm.prank(settlement);
        vault.receiveRevenue(700 * USD);
        // A first depositor finds nothing to collect: the tokens are a donation, outside totalAssets.
        uint256 minted = _deposit(vault, eve, 1);
        vm.warp(block.timestamp + 30 days);
        assertEq(vault.lockedRevenue(), 0);
        vm.prank(eve);
        assertLe(vault.redeem(minted, eve, eve), 1);
    }

    /// @dev The attack of issue 21 item 10: the last holder leaves with revenue still locked, and a
    ///      1-unit deposit then collected it all as it unlocked. It goes to the holders instead.
    function test_RedeemAll_ReleasesLockedRevenueToHolders_NotToNextDepositor() public {
        uint256 bobShares = _deposit(vault, bob, 1000 * USD);
        _payVault(vault, 700 * USD);
        vm.warp(block.timestamp + 1 days);
        vm.expectEmit(address(vault));
        emit IModelVault.LockedRevenueReleased(modelId, 600 * USD, 600 * USD);
        vm.prank(bob);
        assertApproxEqAbs(vault.redeem(bobShares, bob, bob), 1100 * USD, 1);
        assertEq(vault.lockedRevenue(), 0);
        assertEq(vault.releasedRevenue(), 600 * USD);
        assertEq(shares.totalCredited(modelId), 600 * USD, "the holders got what was still locked");
        assertEq(shares.claimable(modelId, alice), 600 * USD);

        uint256 eveShares = _deposit(vault, eve, 1);
        vm.warp(block.timestamp + 30 days);
        vm.prank(eve);
        assertLe(vault.redeem(eveShares, eve, eve), 1, "eve collects none of it");
        assertGe(usd.balanceOf(address(vault)), vault.accountedAssets());
    }

    /// @dev A vault that an older implementation left empty with revenue locked (it used to wait
    ///      there for the next depositor): the next deposit first sends it to the holders.
    function test_Deposit_IntoVaultLeftEmptyWithLockedRevenue_ReleasesItFirst() public {
        // keccak256(abi.encode(uint256(keccak256("openlora.storage.ModelVault")) - 1)) & ~0xff, field 4: locked
        bytes32 lockedSlot = bytes32(uint256(0xec8439ae1b39e776b332fcf3f269f9a8f6d70fd4d3e915e6531c77acb16f2b00) + 4);
        usd.mint(address(vault), 700 * USD);
        vm.store(address(vault), lockedSlot, bytes32(uint256(700 * USD)));
        assertEq(vault.totalSupply(), 0);
        assertEq(vault.lockedRevenue(), 700 * USD);
        assertEq(vault.totalAssets(), 0, "nothing counts as unlocked in an empty vault");

        usd.mint(eve, 1);
        vm.startPrank(eve);
        usd.approve(address(vault), 1);
        vm.expectEmit(address(vault));
        emit IModelVault.LockedRevenueReleased(modelId, 700 * USD, 700 * USD);
        uint256 minted = vault.deposit(1, eve);
        vm.stopPrank();
        assertEq(vault.lockedRevenue(), 0);
        assertEq(shares.claimable(modelId, alice), 700 * USD);
        vm.warp(block.timestamp + 30 days);
        vm.prank(eve);
        assertLe(vault.redeem(minted, eve, eve), 1);
    }

    function test_ReceiveRevenue_ZeroDoesNothing() public {
        _deposit(vault, bob, 10 * USD);
        vm.recordLogs();
        vm.prank(settlement);
        vault.receiveRevenue(0);
        assertEq(vm.getRecordedLogs().length, 0);
        assertEq(vault.totalRevenue(), 0);
    }

    function test_ReceiveRevenue_RevertWhen_CallerIsNotSettlement() public {
        usd.mint(address(vault), 1);
        vm.expectRevert(abi.encodeWithSelector(IModelVault.ModelVault_CallerNotSettlement.selector, stranger));
        vm.prank(stranger);
        vault.receiveRevenue(1);
        vm.expectRevert(abi.encodeWithSelector(IModelVault.ModelVault_CallerNotSettlement.selector, admin));
        vm.prank(admin);
        vault.receiveRevenue(1);
    }

    function test_ReceiveRevenue_RevertWhen_TokensNotTransferred() public {
        _deposit(vault, bob, 100);
        usd.mint(address(vault), 4);
        vm.expectRevert(abi.encodeWithSelector(IModelVault.ModelVault_RevenueNotReceived.selector, 104, 105));
        vm.prank(settlement);
        vault.receiveRevenue(5);
    }

    function test_ReceiveRevenue_UsesTheFactoryPeriodAtArrival() public {
        _deposit(vault, bob, 100 * USD);
        vm.prank(admin);
        factory.setProfitUnlockPeriod(1 days);
        _payVault(vault, 10 * USD);
        assertEq(vault.unlockEnd(), block.timestamp + 1 days);
    }

    // ------------------------------------------------------------------ donations and inflation

    function test_Donation_DoesNotMoveSharePrice() public {
        _deposit(vault, bob, 1000 * USD);
        uint256 price = _price();
        usd.mint(address(vault), 5000 * USD);
        assertEq(vault.totalAssets(), 1000 * USD);
        assertEq(_price(), price);
    }

    function test_InflationAttack_FirstDepositorCannotStealFromNextOne() public {
        // eve deposits 1 unit, then donates a fortune to inflate the share price.
        _deposit(vault, eve, 1);
        usd.mint(address(vault), 1_000_000 * USD);
        uint256 minted = _deposit(vault, bob, 100 * USD);
        assertGt(minted, 0);
        vm.prank(bob);
        uint256 out = vault.redeem(minted, bob, bob);
        assertGe(out, 100 * USD - 1, "bob gets his deposit back");
        uint256 eveShares = vault.balanceOf(eve);
        vm.prank(eve);
        assertLe(vault.redeem(eveShares, eve, eve), 1, "eve gains nothing");
    }

    function test_SweepSurplus_SendsOnlyDonations() public {
        _deposit(vault, bob, 1000 * USD);
        _payVault(vault, 70 * USD);
        usd.mint(address(vault), 33);
        vm.expectEmit(address(vault));
        emit IModelVault.SurplusSwept(admin, 33);
        vm.prank(admin);
        assertEq(vault.sweepSurplus(admin), 33);
        assertEq(usd.balanceOf(address(vault)), 1070 * USD);
        vm.prank(admin);
        assertEq(vault.sweepSurplus(admin), 0);
    }

    function test_SweepSurplus_RevertWhen_CallerIsNotAdmin() public {
        vm.expectRevert(abi.encodeWithSelector(IModelVault.ModelVault_CallerNotAdmin.selector, settlement));
        vm.prank(settlement);
        vault.sweepSurplus(settlement);
    }

    function test_SweepSurplus_RevertWhen_RecipientIsZero() public {
        vm.expectRevert(IModelVault.ModelVault_ZeroAddress.selector);
        vm.prank(admin);
        vault.sweepSurplus(address(0));
    }

    // ------------------------------------------------------------------ pausing

    function test_Pause_StopsDepositsButNeverWithdrawals() public {
        uint256 minted = _deposit(vault, bob, 1000 * USD);
        _payVault(vault, 70 * USD);
        vm.prank(admin);
        factory.pause();
        assertEq(vault.maxDeposit(bob), 0);
        assertEq(vault.maxMint(bob), 0);
        usd.mint(eve, 10 * USD);
        vm.startPrank(eve);
        usd.approve(address(vault), 10 * USD);
        vm.expectRevert(abi.encodeWithSelector(ERC4626Upgradeable.ERC4626ExceededMaxDeposit.selector, eve, 10 * USD, 0));
        vault.deposit(10 * USD, eve);
        vm.expectRevert(abi.encodeWithSelector(ERC4626Upgradeable.ERC4626ExceededMaxMint.selector, eve, 10, 0));
        vault.mint(10, eve);
        vm.stopPrank();

        // Revenue still arrives, and withdrawals and redeems work.
        _payVault(vault, 7 * USD);
        vm.warp(block.timestamp + 7 days);
        vm.startPrank(bob);
        vault.withdraw(100 * USD, bob, bob);
        vault.redeem(vault.balanceOf(bob), bob, bob);
        vm.stopPrank();
        assertApproxEqAbs(usd.balanceOf(bob), 1077 * USD, 1);
        assertLt(vault.balanceOf(bob), minted);

        vm.prank(admin);
        factory.unpause();
        assertEq(vault.maxDeposit(bob), type(uint256).max);
    }

    // ------------------------------------------------------------------ fuzz

    /// @dev Previews are exact in the block they are made, at any point of an unlocking.
    function testFuzz_Previews_MatchExecution(uint96 first, uint96 revenue, uint32 elapsed, uint96 amount) public {
        _deposit(vault, bob, bound(first, 1, type(uint96).max));
        _payVault(vault, revenue);
        vm.warp(block.timestamp + bound(elapsed, 0, 10 days));
        amount = uint96(bound(amount, 1, type(uint96).max));

        uint256 expectShares = vault.previewDeposit(amount);
        assertEq(_deposit(vault, eve, amount), expectShares);

        uint256 mintShares = vault.previewDeposit(amount / 2 + 1);
        uint256 expectAssets = vault.previewMint(mintShares);
        usd.mint(eve, expectAssets);
        vm.startPrank(eve);
        usd.approve(address(vault), expectAssets);
        assertEq(vault.mint(mintShares, eve), expectAssets);

        uint256 w = vault.maxWithdraw(eve) / 3;
        uint256 expectBurn = vault.previewWithdraw(w);
        assertEq(vault.withdraw(w, eve, eve), expectBurn);

        uint256 r = vault.balanceOf(eve) / 2;
        uint256 expectOut = vault.previewRedeem(r);
        assertEq(vault.redeem(r, eve, eve), expectOut);
        vm.stopPrank();
    }

    /// @dev Rounding favours the vault: a deposit can never be redeemed for more than was put in
    ///      at the same price.
    function testFuzz_DepositThenRedeem_NeverProfitsInSameBlock(
        uint96 first,
        uint96 revenue,
        uint32 elapsed,
        uint96 amount
    ) public {
        _deposit(vault, bob, bound(first, 1, type(uint96).max));
        _payVault(vault, revenue);
        vm.warp(block.timestamp + bound(elapsed, 0, 10 days));
        amount = uint96(bound(amount, 1, type(uint96).max));
        uint256 minted = _deposit(vault, eve, amount);
        vm.prank(eve);
        assertLe(vault.redeem(minted, eve, eve), amount);
    }

    /// @dev Revenue arrivals and the passing of time never lower the share price.
    function testFuzz_SharePrice_NeverFallsFromRevenue(uint96 first, uint64[4] memory revenue, uint32[4] memory gaps)
        public
    {
        _deposit(vault, bob, bound(first, 1, type(uint96).max));
        uint256 price = _price();
        for (uint256 i; i < 4; ++i) {
            _payVault(vault, revenue[i]);
            assertGe(_price(), price);
            price = _price();
            vm.warp(block.timestamp + bound(gaps[i], 0, 8 days));
            assertGe(_price(), price);
            price = _price();
        }
        vm.warp(block.timestamp + 30 days);
        assertEq(vault.lockedRevenue(), 0);
        uint256 total;
        for (uint256 i; i < 4; ++i) {
            total += revenue[i];
        }
        assertEq(vault.totalAssets(), bound(first, 1, type(uint96).max) + total);
    }

    /// @dev Every holder can always take out maxWithdraw/maxRedeem, and all of them together never
    ///      more than the vault accounts for.
    function testFuzz_MaxRedeem_AlwaysExecutable(uint96 a, uint96 b, uint96 revenue, uint32 elapsed) public {
        _deposit(vault, bob, bound(a, 1, type(uint96).max));
        _deposit(vault, eve, bound(b, 1, type(uint96).max));
        _payVault(vault, revenue);
        vm.warp(block.timestamp + bound(elapsed, 0, 10 days));
        assertLe(vault.maxWithdraw(bob) + vault.maxWithdraw(eve), vault.totalAssets());
        uint256 maxBob = vault.maxRedeem(bob);
        vm.prank(bob);
        vault.redeem(maxBob, bob, bob);
        uint256 maxEve = vault.maxWithdraw(eve);
        vm.prank(eve);
        vault.withdraw(maxEve, eve, eve);
        assertGe(usd.balanceOf(address(vault)), vault.accountedAssets());
    }
}
