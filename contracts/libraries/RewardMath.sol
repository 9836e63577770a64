// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

/// @title RewardMath
/// @notice The reward-per-unit accumulator of the co-training shares, as pure functions so that
///         the SDK can mirror them off-chain.
/// @dev A model keeps `rewardPerUnit` (scaled by {PRECISION}) and a `carry`: revenue × PRECISION
///      that did not divide evenly among the units and is kept for the next credit, so that no
///      revenue is ever lost to rounding at the model level. Each account's earnings since its last
///      checkpoint are `units × (rewardPerUnit − paid) / PRECISION`, rounded down, so the sum over
///      all holders never exceeds what was credited.
library RewardMath {
    /// @notice Scale of the accumulator.
    uint256 internal constant PRECISION = 1e36;

    /// @notice How much the accumulator rises when `amount` is credited to `totalUnits` units.
    /// @param carry the model's carry before the credit (< `totalUnits` after any earlier credit).
    /// @return delta the increase of rewardPerUnit.
    /// @return newCarry what remains undistributed, scaled by PRECISION (< `totalUnits`).
    function credit(uint256 amount, uint256 totalUnits, uint256 carry)
        internal
        pure
        returns (uint256 delta, uint256 newCarry)
    {
        uint256 scaled = amount * PRECISION + carry;
        delta = scaled / totalUnits;
        newCarry = scaled % totalUnits;
    }

    /// @notice What `units` earned while the accumulator rose from `paid` to `rewardPerUnit`.
    function earned(uint256 units, uint256 rewardPerUnit, uint256 paid) internal pure returns (uint256) {
        return Math.mulDiv(units, rewardPerUnit - paid, PRECISION);
    }
}
