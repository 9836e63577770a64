// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IModelVault} from "./interfaces/IModelVault.sol";
import {IModelVaultFactory} from "./interfaces/IModelVaultFactory.sol";
import {AccessControlUpgradeable} from "@openzeppelin/contracts-upgradeable/access/AccessControlUpgradeable.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {PausableUpgradeable} from "@openzeppelin/contracts-upgradeable/utils/PausableUpgradeable.sol";
import {BeaconProxy} from "@openzeppelin/contracts/proxy/beacon/BeaconProxy.sol";
import {UpgradeableBeacon} from "@openzeppelin/contracts/proxy/beacon/UpgradeableBeacon.sol";
import {Create2} from "@openzeppelin/contracts/utils/Create2.sol";
import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";

/// @title ModelVaultFactory
/// @notice Creates the ERC-4626 vault of each model as a beacon proxy and holds what all vaults share.
/// @dev See {IModelVaultFactory}. UUPS proxy; ERC-7201 storage. The factory owns the beacon, so
///      vault upgrades go through {upgradeVaults} and its `UPGRADER_ROLE`.
contract ModelVaultFactory is
    Initializable,
    AccessControlUpgradeable,
    PausableUpgradeable,
    UUPSUpgradeable,
    IModelVaultFactory
{
    bytes32 public constant UPGRADER_ROLE = keccak256("UPGRADER_ROLE");
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");
    bytes32 public constant SETTLEMENT_ROLE = keccak256("SETTLEMENT_ROLE");
    uint256 public constant MIN_UNLOCK_PERIOD = 1 hours;
    uint256 public constant MAX_UNLOCK_PERIOD = 365 days;

    /// @custom:storage-location erc7201:openlora.storage.ModelVaultFactory
    struct ModelVaultFactoryStorage {
        address asset;
        address registry;
        UpgradeableBeacon beacon;
        uint256 profitUnlockPeriod;
        mapping(uint256 modelId => address) vaults;
        address settlement; // flushed before a deposit into an empty vault (zero: none)
    }

    // keccak256(abi.encode(uint256(keccak256("openlora.storage.ModelVaultFactory")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant MODEL_VAULT_FACTORY_STORAGE_LOCATION =
        0x56b12f66f1eef73ae0577dc399cbcc2d3a1e410e54b40322e6216ef585c3e600;

    function _getModelVaultFactoryStorage() private pure returns (ModelVaultFactoryStorage storage $) {
        assembly {
            $.slot := MODEL_VAULT_FACTORY_STORAGE_LOCATION
        }
    }

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    /// @notice Initializes the proxy and creates the vault beacon (owned by this factory).
    /// @param admin receives `DEFAULT_ADMIN_ROLE`, `UPGRADER_ROLE` and `PAUSER_ROLE`.
    /// @param asset_ the payment asset.
    /// @param registry_ the model registry (the only caller of {createVault}).
    /// @param vaultImplementation_ the {ModelVault} implementation the beacon starts with.
    /// @param profitUnlockPeriod_ in seconds, within [{MIN_UNLOCK_PERIOD}, {MAX_UNLOCK_PERIOD}].
    function initialize(
        address admin,
        address asset_,
        address registry_,
        address vaultImplementation_,
        uint256 profitUnlockPeriod_
    ) external initializer {
        if (admin == address(0) || asset_ == address(0) || registry_ == address(0)) {
            revert ModelVaultFactory_ZeroAddress();
        }
        __AccessControl_init();
        __Pausable_init();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(UPGRADER_ROLE, admin);
        _grantRole(PAUSER_ROLE, admin);
        ModelVaultFactoryStorage storage $ = _getModelVaultFactoryStorage();
        $.asset = asset_;
        $.registry = registry_;
        // UpgradeableBeacon checks that the implementation has code.
        $.beacon = new UpgradeableBeacon(vaultImplementation_, address(this));
        _setProfitUnlockPeriod($, profitUnlockPeriod_);
    }

    /// @inheritdoc IModelVaultFactory
    function createVault(uint256 modelId) external returns (address vault) {
        ModelVaultFactoryStorage storage $ = _getModelVaultFactoryStorage();
        if (msg.sender != $.registry) revert ModelVaultFactory_CallerNotRegistry(msg.sender);
        address existing = $.vaults[modelId];
        if (existing != address(0)) revert ModelVaultFactory_VaultExists(modelId, existing);
        vault = address(new BeaconProxy{salt: bytes32(modelId)}(address($.beacon), _initData($, modelId)));
        $.vaults[modelId] = vault;
        emit VaultCreated(modelId, vault);
    }

    /// @inheritdoc IModelVaultFactory
    function setProfitUnlockPeriod(uint256 period) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setProfitUnlockPeriod(_getModelVaultFactoryStorage(), period);
    }

    /// @inheritdoc IModelVaultFactory
    function upgradeVaults(address newImplementation) external onlyRole(UPGRADER_ROLE) {
        _getModelVaultFactoryStorage().beacon.upgradeTo(newImplementation);
        emit VaultImplementationUpgraded(newImplementation);
    }

    /// @inheritdoc IModelVaultFactory
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @inheritdoc IModelVaultFactory
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IModelVaultFactory
    function paused() public view override(PausableUpgradeable, IModelVaultFactory) returns (bool) {
        return super.paused();
    }

    /// @inheritdoc IModelVaultFactory
    function hasRole(bytes32 role, address account)
        public
        view
        override(AccessControlUpgradeable, IModelVaultFactory)
        returns (bool)
    {
        return super.hasRole(role, account);
    }

    /// @inheritdoc IModelVaultFactory
    function asset() external view returns (address) {
        return _getModelVaultFactoryStorage().asset;
    }

    /// @inheritdoc IModelVaultFactory
    function registry() external view returns (address) {
        return _getModelVaultFactoryStorage().registry;
    }

    /// @inheritdoc IModelVaultFactory
    function beacon() external view returns (address) {
        return address(_getModelVaultFactoryStorage().beacon);
    }

    /// @inheritdoc IModelVaultFactory
    function vaultImplementation() external view returns (address) {
        return _getModelVaultFactoryStorage().beacon.implementation();
    }

    /// @inheritdoc IModelVaultFactory
    function profitUnlockPeriod() external view returns (uint256) {
        return _getModelVaultFactoryStorage().profitUnlockPeriod;
    }

    /// @inheritdoc IModelVaultFactory
    function revenueTerms(address caller) external view returns (bool isSettlement, uint256 unlockPeriod) {
        return (hasRole(SETTLEMENT_ROLE, caller), _getModelVaultFactoryStorage().profitUnlockPeriod);
    }

    /// @notice Settlement, which vaults flush before a deposit into an empty vault (zero: none).
    function settlement() external view returns (address) {
        return _getModelVaultFactoryStorage().settlement;
    }

    /// @notice Sets {settlement}. Admin only.
    function setSettlement(address settlement_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _getModelVaultFactoryStorage().settlement = settlement_;
    }

    /// @inheritdoc IModelVaultFactory
    function vaultOf(uint256 modelId) external view returns (address) {
        return _getModelVaultFactoryStorage().vaults[modelId];
    }

    /// @inheritdoc IModelVaultFactory
    function predictVault(uint256 modelId) external view returns (address) {
        ModelVaultFactoryStorage storage $ = _getModelVaultFactoryStorage();
        bytes memory initCode =
            abi.encodePacked(type(BeaconProxy).creationCode, abi.encode(address($.beacon), _initData($, modelId)));
        return Create2.computeAddress(bytes32(modelId), keccak256(initCode));
    }

    // ------------------------------------------------------------------ internal

    /// @dev The vault's initializer call: name "OpenLoRA Model #<id> Vault", symbol "olVAULT-<id>".
    function _initData(ModelVaultFactoryStorage storage $, uint256 modelId) private view returns (bytes memory) {
        string memory id = Strings.toString(modelId);
        return abi.encodeCall(
            IModelVault.initialize,
            (
                $.asset,
                address(this),
                modelId,
                string.concat("OpenLoRA Model #", id, " Vault"),
                string.concat("olVAULT-", id)
            )
        );
    }

    function _setProfitUnlockPeriod(ModelVaultFactoryStorage storage $, uint256 period) private {
        if (period < MIN_UNLOCK_PERIOD || period > MAX_UNLOCK_PERIOD) {
            revert ModelVaultFactory_UnlockPeriodOutOfRange(period);
        }
        uint256 previous = $.profitUnlockPeriod;
        $.profitUnlockPeriod = period;
        emit ProfitUnlockPeriodSet(previous, period);
    }

    function _authorizeUpgrade(address) internal override onlyRole(UPGRADER_ROLE) {}
}
