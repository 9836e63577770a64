// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

/// @title IRevenueFlush
/// @notice What the vaults and the shares contract call on Settlement before anything that must see
///         a model's settled revenue: it moves the model's pending usage and revenue out (see Settlement).
interface IRevenueFlush {
    function flush(uint256 modelId) external;

    /// @notice What {flush} would do now (see Settlement).
    function pendingSplitOf(uint256 modelId)
        external
        view
        returns (uint256 calls, uint256 revenue, uint256 vaultAmount, uint256 holdersAmount);
}

/// @notice Where a vault finds Settlement (its factory).
interface ISettlementSource {
    function settlement() external view returns (address);
}
