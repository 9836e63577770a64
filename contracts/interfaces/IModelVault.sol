// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";

/// @title IModelVault
/// @notice The ERC-4626 vault of one model: investors deposit the payment asset as the model's
///         backing stake and earn the model's vault share of revenue. Revenue arrives from
///         Settlement and unlocks linearly over the factory's profit-unlock period (as in yearn v3),
///         so the share price rises smoothly and no one can capture a revenue arrival by depositing
///         just before it and redeeming just after.
/// @dev Accounting: {totalAssets} = deposits − withdrawals + revenue unlocked so far. It is tracked
///      internally, never read from the token balance, so tokens sent directly to the vault
///      ("donations") do not move the share price; the factory admin may sweep them with
///      {sweepSurplus}. An empty vault holds no revenue, so no depositor can collect revenue that
///      arrived before anyone backed the model: while the vault has no shares, Settlement sends
///      its vault share to the model's holders ({ICoTrainingShares}) instead, and {receiveRevenue}
///      reverts; revenue still locked when the last shares leave goes to the holders at once
///      ({LockedRevenueReleased}). Revenue that unlocks while shares exist is shared by them pro
///      rata, the 10^6 virtual shares included. Shares carry 6 more decimals than the asset (virtual-share offset against the
///      first-depositor inflation attack). Deposits and mints stop while the factory is paused
///      ({maxDeposit}/{maxMint} return 0); withdrawals and redeems never stop.
///      Revenue arrives push-then-notify: Settlement transfers the amount, then calls
///      {receiveRevenue}; the vault checks that its balance covers everything it accounts for.
///      Roles are the factory's: `SETTLEMENT_ROLE` may call {receiveRevenue}, `DEFAULT_ADMIN_ROLE`
///      may call {sweepSurplus}. Vaults are beacon proxies; the factory's `UPGRADER_ROLE` upgrades
///      them all at once.
interface IModelVault is IERC4626 {
    /// @notice Revenue arrived. `lockedRevenue` is what is still to unlock (including this amount),
    ///         `unlockEnd` when it will all be unlocked, `totalRevenue` the cumulative revenue received.
    event RevenueReceived(
        uint256 indexed modelId, uint256 amount, uint256 lockedRevenue, uint256 unlockEnd, uint256 totalRevenue
    );

    /// @notice The last shares left while `amount` of revenue was still locked: it went to the
    ///         model's holders. `totalReleased` is the cumulative amount released so.
    event LockedRevenueReleased(uint256 indexed modelId, uint256 amount, uint256 totalReleased);

    /// @notice Tokens held beyond what the vault accounts for were swept.
    event SurplusSwept(address indexed to, uint256 amount);

    /// @notice The caller lacks the factory's `SETTLEMENT_ROLE`.
    error ModelVault_CallerNotSettlement(address caller);
    /// @notice The caller lacks the factory's `DEFAULT_ADMIN_ROLE`.
    error ModelVault_CallerNotAdmin(address caller);
    /// @notice {receiveRevenue}: the balance does not cover accounted assets plus the new amount.
    error ModelVault_RevenueNotReceived(uint256 balance, uint256 required);
    /// @notice A zero address was passed.
    error ModelVault_ZeroAddress();
    /// @notice {receiveRevenue} while the vault has no shares: that revenue belongs to the holders.
    error ModelVault_NoShares();

    /// @notice Initializes a new vault proxy. Called once by the factory.
    function initialize(
        address asset_,
        address factory_,
        uint256 modelId_,
        string calldata name_,
        string calldata symbol_
    ) external;

    /// @notice Notifies the vault of `amount` of revenue already transferred to it; it starts
    ///         unlocking now. Only the factory's `SETTLEMENT_ROLE`. An amount of 0 does nothing.
    ///         Reverts with {ModelVault_NoShares} while the vault has no shares. Works while paused.
    function receiveRevenue(uint256 amount) external;

    /// @notice Sends tokens held beyond what the vault accounts for to `to`. Only the factory's
    ///         `DEFAULT_ADMIN_ROLE`.
    /// @return amount what was sent.
    function sweepSurplus(address to) external returns (uint256 amount);

    /// @notice The model this vault backs.
    function modelId() external view returns (uint256);

    /// @notice The factory that created the vault (and holds its roles and pause switch).
    function factory() external view returns (address);

    /// @notice Revenue received but not yet unlocked (not yet in {totalAssets}).
    function lockedRevenue() external view returns (uint256);

    /// @notice When all locked revenue will be unlocked (unix time; in the past when none is
    ///         locked), provided the vault keeps shares until then.
    function unlockEnd() external view returns (uint256);

    /// @notice Cumulative revenue received.
    function totalRevenue() external view returns (uint256);

    /// @notice Cumulative revenue that was still locked when the vault emptied, sent to the holders.
    function releasedRevenue() external view returns (uint256);

    /// @notice {totalAssets} + {lockedRevenue}: everything the vault owes to its holders now and later.
    function accountedAssets() external view returns (uint256);
}
