// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

/// @title IModelVaultFactory
/// @notice Creates one {IModelVault} per model as a beacon proxy at a deterministic address
///         (CREATE2, salt = model id), and holds what all vaults share: the beacon (so the
///         `UPGRADER_ROLE` upgrades every vault at once), the pause switch for deposits, the
///         profit-unlock period, and the roles vaults check (`SETTLEMENT_ROLE` for revenue,
///         `DEFAULT_ADMIN_ROLE` for sweeping donations).
interface IModelVaultFactory {
    /// @notice A vault was created for a model.
    event VaultCreated(uint256 indexed modelId, address indexed vault);
    /// @notice The profit-unlock period changed; it applies to revenue that arrives afterwards.
    event ProfitUnlockPeriodSet(uint256 previousPeriod, uint256 newPeriod);
    /// @notice All vaults now run a new implementation.
    event VaultImplementationUpgraded(address indexed implementation);

    /// @notice The caller is not the model registry.
    error ModelVaultFactory_CallerNotRegistry(address caller);
    /// @notice The model already has a vault.
    error ModelVaultFactory_VaultExists(uint256 modelId, address vault);
    /// @notice A profit-unlock period outside [{MIN_UNLOCK_PERIOD}, {MAX_UNLOCK_PERIOD}].
    error ModelVaultFactory_UnlockPeriodOutOfRange(uint256 period);
    /// @notice A zero address was passed.
    error ModelVaultFactory_ZeroAddress();

    /// @notice Role that authorises UUPS upgrades of the factory and upgrades of the vault beacon.
    function UPGRADER_ROLE() external view returns (bytes32);
    /// @notice Role that pauses and unpauses deposits into every vault.
    function PAUSER_ROLE() external view returns (bytes32);
    /// @notice Role of the Settlement contract: may call {IModelVault.receiveRevenue} on any vault.
    function SETTLEMENT_ROLE() external view returns (bytes32);
    /// @notice Shortest allowed profit-unlock period (1 hour).
    function MIN_UNLOCK_PERIOD() external view returns (uint256);
    /// @notice Longest allowed profit-unlock period (365 days).
    function MAX_UNLOCK_PERIOD() external view returns (uint256);

    /// @notice Creates the vault of `modelId`. Only the registry, during registration.
    /// @return vault the new vault's address (equal to {predictVault}(`modelId`)).
    function createVault(uint256 modelId) external returns (address vault);

    /// @notice Sets the profit-unlock period for future revenue. Only `DEFAULT_ADMIN_ROLE`.
    function setProfitUnlockPeriod(uint256 period) external;

    /// @notice Points the beacon at a new vault implementation. Only `UPGRADER_ROLE`.
    function upgradeVaults(address newImplementation) external;

    /// @notice Pauses deposits and mints in every vault. Only `PAUSER_ROLE`.
    function pause() external;

    /// @notice Unpauses. Only `PAUSER_ROLE`.
    function unpause() external;

    /// @notice Whether deposits are paused.
    function paused() external view returns (bool);

    /// @notice The payment asset (every vault's asset).
    function asset() external view returns (address);

    /// @notice The model registry, the only caller of {createVault}.
    function registry() external view returns (address);

    /// @notice The beacon every vault proxy follows.
    function beacon() external view returns (address);

    /// @notice The current vault implementation.
    function vaultImplementation() external view returns (address);

    /// @notice The profit-unlock period in seconds.
    function profitUnlockPeriod() external view returns (uint256);

    /// @notice What a vault asks when revenue arrives, in one call: whether `caller` holds
    ///         `SETTLEMENT_ROLE`, and the current {profitUnlockPeriod}.
    function revenueTerms(address caller) external view returns (bool isSettlement, uint256 unlockPeriod);

    /// @notice The vault of `modelId`, zero if none.
    function vaultOf(uint256 modelId) external view returns (address);

    /// @notice The address the vault of `modelId` has or will have.
    function predictVault(uint256 modelId) external view returns (address);

    /// @notice Whether `account` holds `role` in the factory (vaults ask this).
    function hasRole(bytes32 role, address account) external view returns (bool);
}
