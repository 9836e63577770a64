// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

/// @title ProfitUnlock
/// @notice Linear unlocking of a vault's revenue, as pure functions so that the SDK can mirror them.
/// @dev A vault holds `locked` revenue that unlocks linearly from `start` to `end`. When new revenue
///      arrives while some is still locked, the two are merged and the new end is the
///      amount-weighted average of the remaining time and the full period (yearn v3's rule), so a
///      stream of small arrivals cannot postpone the unlocking of earlier revenue by a whole period.
library ProfitUnlock {
    /// @notice How much of `locked` has unlocked at time `t` on the line from `start` to `end`.
    /// @dev Rounds down, so the vault never counts more than has unlocked; all of it at `end`.
    function unlocked(uint256 locked, uint256 start, uint256 end, uint256 t) internal pure returns (uint256) {
        if (t >= end) return locked;
        if (t <= start) return 0;
        // end > t > start here, so the division is by a positive number.
        return locked * (t - start) / (end - start);
    }

    /// @notice The duration over which `remaining + amount` unlocks after `amount` arrives while
    ///         `remaining` still had `remainingTime` to go, for a period of `period`.
    /// @dev Weighted average of `remainingTime` and `period`, rounded down; `period` when nothing
    ///      remains. Never longer than `period` when `remainingTime <= period`.
    function mergedDuration(uint256 remaining, uint256 remainingTime, uint256 amount, uint256 period)
        internal
        pure
        returns (uint256)
    {
        if (remaining == 0) return period;
        return (remaining * remainingTime + amount * period) / (remaining + amount);
    }
}
