// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {RevenueSplit} from "../../contracts/libraries/RevenueSplit.sol";
import {Test} from "forge-std/Test.sol";

/// @dev Library reverts happen inside an internal call; route through an external function so
///      that vm.expectRevert sees them at the next call depth.
contract RevenueSplitHarness {
    function split(uint256 amount, uint256 p, uint256 r, uint256 v) external pure returns (RevenueSplit.Parts memory) {
        return RevenueSplit.split(amount, p, r, v);
    }
}

contract RevenueSplitTest is Test {
    RevenueSplitHarness internal harness = new RevenueSplitHarness();

    function test_Split_KnownValues() public view {
        // 1,000,000 at 2% protocol, 10% runner, 30% vault of the remaining 880,000.
        RevenueSplit.Parts memory parts = harness.split(1_000_000, 200, 1000, 3000);
        assertEq(parts.protocolFee, 20_000);
        assertEq(parts.runnerFee, 100_000);
        assertEq(parts.vault, 264_000);
        assertEq(parts.holders, 616_000);
    }

    function test_Split_RoundingRemainderGoesToHolders() public view {
        RevenueSplit.Parts memory parts = harness.split(7, 3333, 3333, 5000);
        assertEq(parts.protocolFee, 2);
        assertEq(parts.runnerFee, 2);
        assertEq(parts.vault, 1);
        assertEq(parts.holders, 2);
    }

    function test_Split_RevertWhen_FeesAbove100Percent() public {
        vm.expectRevert(abi.encodeWithSelector(RevenueSplit.RevenueSplit_FeesTooHigh.selector, 6000, 4001));
        harness.split(1, 6000, 4001, 0);
    }

    function test_Split_RevertWhen_VaultShareAbove100Percent() public {
        vm.expectRevert(abi.encodeWithSelector(RevenueSplit.RevenueSplit_VaultShareTooHigh.selector, 10_001));
        harness.split(1, 0, 0, 10_001);
    }

    function testFuzz_Split_PartsAddUpToAmount(uint256 amount, uint256 p, uint256 r, uint256 v) public view {
        amount = bound(amount, 0, type(uint128).max);
        p = bound(p, 0, RevenueSplit.BPS);
        r = bound(r, 0, RevenueSplit.BPS - p);
        v = bound(v, 0, RevenueSplit.BPS);
        RevenueSplit.Parts memory parts = harness.split(amount, p, r, v);
        assertEq(parts.protocolFee + parts.runnerFee + parts.vault + parts.holders, amount);
        assertLe(parts.protocolFee, amount * p / RevenueSplit.BPS);
        assertLe(parts.vault, (amount - parts.protocolFee - parts.runnerFee) * v / RevenueSplit.BPS);
    }
}
