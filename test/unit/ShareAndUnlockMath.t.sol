// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {ProfitUnlock} from "../../contracts/libraries/ProfitUnlock.sol";
import {RewardMath} from "../../contracts/libraries/RewardMath.sol";
import {Test} from "forge-std/Test.sol";

/// @notice The pure math behind the shares' accumulator and the vaults' unlocking.
contract ShareAndUnlockMathTest is Test {
    // ------------------------------------------------------------------ RewardMath

    function test_Credit_SplitsEvenlyAndCarriesTheRest() public pure {
        (uint256 delta, uint256 carry) = RewardMath.credit(10, 3, 0);
        assertEq(delta, 10 * RewardMath.PRECISION / 3);
        assertEq(carry, (10 * RewardMath.PRECISION) % 3);
        assertEq(RewardMath.earned(3, delta, 0), 9, "3 units earn 9 of 10 after rounding down");
    }

    /// @dev Nothing is created or lost at the model level: delta × total + carry is exactly the
    ///      scaled amount plus the previous carry.
    function testFuzz_Credit_ConservesValue(uint128 amount, uint128 totalUnits, uint256 carry) public pure {
        totalUnits = uint128(bound(totalUnits, 1, type(uint128).max));
        carry = bound(carry, 0, uint256(totalUnits) - 1);
        (uint256 delta, uint256 newCarry) = RewardMath.credit(amount, totalUnits, carry);
        assertLt(newCarry, totalUnits);
        assertEq(delta * totalUnits + newCarry, uint256(amount) * RewardMath.PRECISION + carry);
    }

    /// @dev Split into parts, units earn no more in total than the whole; what they do not earn
    ///      now is the carry (kept for the next credit) plus under one token unit per part.
    function testFuzz_Earned_PartsNeverExceedWhole(uint128 a, uint128 b, uint128 amount) public pure {
        a = uint128(bound(a, 1, type(uint128).max / 2));
        b = uint128(bound(b, 1, type(uint128).max / 2));
        uint256 total = uint256(a) + b;
        (uint256 delta, uint256 carry) = RewardMath.credit(amount, total, 0);
        uint256 sum = RewardMath.earned(a, delta, 0) + RewardMath.earned(b, delta, 0);
        assertLe(sum, amount);
        assertLe(amount - sum, carry / RewardMath.PRECISION + 2);
    }

    // ------------------------------------------------------------------ ProfitUnlock

    function test_Unlocked_IsLinear() public pure {
        assertEq(ProfitUnlock.unlocked(700, 100, 800, 100), 0);
        assertEq(ProfitUnlock.unlocked(700, 100, 800, 200), 100);
        assertEq(ProfitUnlock.unlocked(700, 100, 800, 799), 699);
        assertEq(ProfitUnlock.unlocked(700, 100, 800, 800), 700);
        assertEq(ProfitUnlock.unlocked(700, 100, 800, 10_000), 700);
        assertEq(ProfitUnlock.unlocked(700, 100, 800, 50), 0);
    }

    function test_MergedDuration_WeightsRemainingTimeAndPeriod() public pure {
        assertEq(ProfitUnlock.mergedDuration(0, 0, 5, 7 days), 7 days);
        assertEq(ProfitUnlock.mergedDuration(350, 3.5 days, 350, 7 days), 5.25 days);
        assertEq(ProfitUnlock.mergedDuration(100, 1 days, 0, 7 days), 1 days);
    }

    /// @dev Never decreasing in time, never more than what is locked.
    function testFuzz_Unlocked_MonotoneAndBounded(uint128 locked, uint32 start, uint32 length, uint32 t1, uint32 t2)
        public
        pure
    {
        uint256 end = uint256(start) + bound(length, 1, 400 days);
        (uint256 early, uint256 late) = t1 <= t2 ? (t1, t2) : (t2, t1);
        uint256 u1 = ProfitUnlock.unlocked(locked, start, end, early);
        uint256 u2 = ProfitUnlock.unlocked(locked, start, end, late);
        assertLe(u1, u2);
        assertLe(u2, locked);
        assertEq(ProfitUnlock.unlocked(locked, start, end, end), locked);
    }

    /// @dev The merged duration lies between the remaining time and the full period, so earlier
    ///      revenue is never postponed by more than the new arrival's weight.
    function testFuzz_MergedDuration_Between(uint128 remaining, uint32 remainingTime, uint128 amount, uint32 period)
        public
        pure
    {
        period = uint32(bound(period, 1 hours, 365 days));
        remainingTime = uint32(bound(remainingTime, 1, period));
        remaining = uint128(bound(remaining, 1, type(uint128).max));
        amount = uint128(bound(amount, 1, type(uint128).max));
        uint256 d = ProfitUnlock.mergedDuration(remaining, remainingTime, amount, period);
        assertGe(d, remainingTime);
        assertLe(d, period);
    }
}
