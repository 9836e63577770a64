// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {ICoTrainingShares} from "./interfaces/ICoTrainingShares.sol";
import {IModelRegistry} from "./interfaces/IModelRegistry.sol";
import {IModelVaultFactory} from "./interfaces/IModelVaultFactory.sol";
import {AccessControlUpgradeable} from "@openzeppelin/contracts-upgradeable/access/AccessControlUpgradeable.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {PausableUpgradeable} from "@openzeppelin/contracts-upgradeable/utils/PausableUpgradeable.sol";
import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";

/// @title ModelRegistry
/// @notice Base models and LoRA adapters with their provenance, terms, status and usage counters.
/// @dev See {IModelRegistry}. UUPS proxy; ERC-7201 storage.
contract ModelRegistry is
    Initializable,
    AccessControlUpgradeable,
    PausableUpgradeable,
    UUPSUpgradeable,
    IModelRegistry
{
    using EnumerableSet for EnumerableSet.UintSet;

    bytes32 public constant UPGRADER_ROLE = keccak256("UPGRADER_ROLE");
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");
    bytes32 public constant SETTLEMENT_ROLE = keccak256("SETTLEMENT_ROLE");
    uint16 internal constant MAX_BPS = 10_000;

    /// @dev `Model` and `BaseModel` are stored as IModelRegistry declares them: change those structs
    ///      only by appending fields, as for this one.
    /// @custom:storage-location erc7201:openlora.storage.ModelRegistry
    struct ModelRegistryStorage {
        ICoTrainingShares shares;
        IModelVaultFactory vaultFactory;
        uint256 modelCount;
        uint256 baseModelCount;
        mapping(uint256 modelId => Model) models;
        mapping(uint256 baseModelId => BaseModel) baseModels;
        mapping(bytes32 adapterHash => uint256 modelId) modelIdByAdapterHash;
        mapping(bytes32 contentHash => uint256 baseModelId) baseModelIdByContentHash;
        mapping(address owner => EnumerableSet.UintSet) modelsByOwner;
        mapping(uint256 modelId => uint256[]) versions;
    }

    // keccak256(abi.encode(uint256(keccak256("openlora.storage.ModelRegistry")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant MODEL_REGISTRY_STORAGE_LOCATION =
        0x85438aca8f170f24d3b5c72d0719fd2467e64f73d61c733aadaabc18b9826c00;

    function _getModelRegistryStorage() private pure returns (ModelRegistryStorage storage $) {
        assembly {
            $.slot := MODEL_REGISTRY_STORAGE_LOCATION
        }
    }

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    /// @notice Initializes the proxy. The modules follow with {setModules}, once they are deployed
    ///         against this registry's address.
    /// @param admin receives `DEFAULT_ADMIN_ROLE`, `UPGRADER_ROLE` and `PAUSER_ROLE`.
    function initialize(address admin) external initializer {
        if (admin == address(0)) revert ModelRegistry_ZeroAddress();
        __AccessControl_init();
        __Pausable_init();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(UPGRADER_ROLE, admin);
        _grantRole(PAUSER_ROLE, admin);
    }

    modifier onlyModelOwner(uint256 modelId) {
        _checkModelOwner(_getModelRegistryStorage(), modelId);
        _;
    }

    // ------------------------------------------------------------------ admin

    /// @inheritdoc IModelRegistry
    function setModules(ICoTrainingShares shares_, IModelVaultFactory vaultFactory_)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        ModelRegistryStorage storage $ = _getModelRegistryStorage();
        if (address($.shares) != address(0)) {
            revert ModelRegistry_ModulesAlreadySet(address($.shares), address($.vaultFactory));
        }
        if (address(shares_) == address(0) || address(vaultFactory_) == address(0)) revert ModelRegistry_ZeroAddress();
        if (
            shares_.registry() != address(this) || vaultFactory_.registry() != address(this)
                || address(shares_.asset()) != vaultFactory_.asset()
        ) revert ModelRegistry_ModulesMismatch(address(shares_), address(vaultFactory_));
        $.shares = shares_;
        $.vaultFactory = vaultFactory_;
        emit ModulesSet(address(shares_), address(vaultFactory_));
    }

    /// @inheritdoc IModelRegistry
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @inheritdoc IModelRegistry
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    // ------------------------------------------------------------------ registration

    /// @inheritdoc IModelRegistry
    function registerBaseModel(bytes32 contentHash, string calldata metadataURI)
        external
        whenNotPaused
        returns (uint256 baseModelId)
    {
        if (contentHash == bytes32(0)) revert ModelRegistry_ZeroHash();
        ModelRegistryStorage storage $ = _getModelRegistryStorage();
        uint256 existing = $.baseModelIdByContentHash[contentHash];
        if (existing != 0) revert ModelRegistry_BaseModelAlreadyRegistered(contentHash, existing);
        baseModelId = ++$.baseModelCount;
        BaseModel storage b = $.baseModels[baseModelId];
        b.owner = msg.sender;
        b.registeredAt = uint64(block.timestamp);
        b.contentHash = contentHash;
        b.metadataURI = metadataURI;
        $.baseModelIdByContentHash[contentHash] = baseModelId;
        emit BaseModelRegistered(baseModelId, msg.sender, contentHash, metadataURI);
    }

    /// @inheritdoc IModelRegistry
    function registerModel(ModelParams calldata params, ICoTrainingShares.ContributorConsent[] calldata contributors)
        external
        whenNotPaused
        returns (uint256 modelId, address vault)
    {
        ModelRegistryStorage storage $ = _getModelRegistryStorage();
        ICoTrainingShares shares_ = $.shares;
        if (address(shares_) == address(0)) revert ModelRegistry_ModulesNotSet();
        _validateParams($, params, contributors);

        modelId = ++$.modelCount;
        vault = $.vaultFactory.createVault(modelId);
        _storeModel($, modelId, vault, params);
        $.modelIdByAdapterHash[params.adapterHash] = modelId;
        $.modelsByOwner[msg.sender].add(modelId);
        if (params.parentModelId != 0) $.versions[params.parentModelId].push(modelId);

        emit ModelRegistered(
            modelId, msg.sender, params.baseModelId, params.adapterHash, params.trainer, params.parentModelId, vault
        );
        emit DatasetsRecorded(modelId, params.datasetHashes);
        emit PricePerCallSet(modelId, params.pricePerCall);
        emit VaultShareSet(modelId, params.vaultShareBps);
        emit MetadataURISet(modelId, params.metadataURI);

        // Checks every contributor's consent and sets the units; reverts the whole registration otherwise.
        shares_.initializeModel(modelId, msg.sender, params.adapterHash, contributors);
    }

    // ------------------------------------------------------------------ model owner

    /// @inheritdoc IModelRegistry
    function setPricePerCall(uint256 modelId, uint256 pricePerCall) external onlyModelOwner(modelId) {
        Model storage m = _getModelRegistryStorage().models[modelId];
        if (m.status == ModelStatus.Retired) revert ModelRegistry_ModelRetired(modelId);
        m.pricePerCall = pricePerCall;
        emit PricePerCallSet(modelId, pricePerCall);
    }

    /// @inheritdoc IModelRegistry
    function setVaultShareBps(uint256 modelId, uint16 vaultShareBps) external onlyModelOwner(modelId) {
        if (vaultShareBps > MAX_BPS) revert ModelRegistry_VaultShareTooHigh(vaultShareBps);
        Model storage m = _getModelRegistryStorage().models[modelId];
        if (m.status == ModelStatus.Retired) revert ModelRegistry_ModelRetired(modelId);
        m.vaultShareBps = vaultShareBps;
        emit VaultShareSet(modelId, vaultShareBps);
    }

    /// @inheritdoc IModelRegistry
    function setMetadataURI(uint256 modelId, string calldata metadataURI) external onlyModelOwner(modelId) {
        _getModelRegistryStorage().models[modelId].metadataURI = metadataURI;
        emit MetadataURISet(modelId, metadataURI);
    }

    /// @inheritdoc IModelRegistry
    function setStatus(uint256 modelId, ModelStatus status) external onlyModelOwner(modelId) {
        Model storage m = _getModelRegistryStorage().models[modelId];
        ModelStatus previous = m.status;
        if (previous == ModelStatus.Retired) revert ModelRegistry_ModelRetired(modelId);
        if (status == ModelStatus.None || status == previous) revert ModelRegistry_InvalidStatus(modelId, status);
        m.status = status;
        emit ModelStatusChanged(modelId, previous, status);
    }

    /// @inheritdoc IModelRegistry
    function transferModelOwnership(uint256 modelId, address newOwner) external onlyModelOwner(modelId) {
        if (newOwner == address(0)) revert ModelRegistry_ZeroAddress();
        ModelRegistryStorage storage $ = _getModelRegistryStorage();
        Model storage m = $.models[modelId];
        address previous = m.owner;
        m.owner = newOwner;
        $.modelsByOwner[previous].remove(modelId);
        $.modelsByOwner[newOwner].add(modelId);
        emit ModelOwnershipTransferred(modelId, previous, newOwner);
    }

    // ------------------------------------------------------------------ settlement

    /// @inheritdoc IModelRegistry
    function recordUsage(uint256 modelId, uint256 calls, uint256 revenue)
        external
        onlyRole(SETTLEMENT_ROLE)
        returns (address vault, uint16 vaultShareBps)
    {
        ModelRegistryStorage storage $ = _getModelRegistryStorage();
        _checkModelExists($, modelId);
        Model storage m = $.models[modelId];
        vault = m.vault;
        vaultShareBps = m.vaultShareBps;
        uint256 totalCalls = m.totalCalls + calls;
        uint256 totalRevenue = m.totalRevenue + revenue;
        m.totalCalls = totalCalls;
        m.totalRevenue = totalRevenue;
        emit UsageRecorded(modelId, calls, revenue, totalCalls, totalRevenue);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IModelRegistry
    function shares() external view returns (ICoTrainingShares) {
        return _getModelRegistryStorage().shares;
    }

    /// @inheritdoc IModelRegistry
    function vaultFactory() external view returns (IModelVaultFactory) {
        return _getModelRegistryStorage().vaultFactory;
    }

    /// @inheritdoc IModelRegistry
    function modelCount() external view returns (uint256) {
        return _getModelRegistryStorage().modelCount;
    }

    /// @inheritdoc IModelRegistry
    function baseModelCount() external view returns (uint256) {
        return _getModelRegistryStorage().baseModelCount;
    }

    /// @inheritdoc IModelRegistry
    function getModel(uint256 modelId) external view returns (Model memory) {
        ModelRegistryStorage storage $ = _getModelRegistryStorage();
        _checkModelExists($, modelId);
        return $.models[modelId];
    }

    /// @inheritdoc IModelRegistry
    function getModelTerms(uint256 modelId) external view returns (ModelTerms memory terms) {
        ModelRegistryStorage storage $ = _getModelRegistryStorage();
        _checkModelExists($, modelId);
        Model storage m = $.models[modelId];
        terms = ModelTerms({
            owner: m.owner,
            vault: m.vault,
            adapterHash: m.adapterHash,
            baseModelId: m.baseModelId,
            pricePerCall: m.pricePerCall,
            vaultShareBps: m.vaultShareBps,
            status: m.status
        });
    }

    /// @inheritdoc IModelRegistry
    function getBaseModel(uint256 baseModelId) external view returns (BaseModel memory) {
        ModelRegistryStorage storage $ = _getModelRegistryStorage();
        if (baseModelId == 0 || baseModelId > $.baseModelCount) revert ModelRegistry_UnknownBaseModel(baseModelId);
        return $.baseModels[baseModelId];
    }

    /// @inheritdoc IModelRegistry
    function ownerOf(uint256 modelId) external view returns (address) {
        ModelRegistryStorage storage $ = _getModelRegistryStorage();
        _checkModelExists($, modelId);
        return $.models[modelId].owner;
    }

    /// @inheritdoc IModelRegistry
    function modelIdByAdapterHash(bytes32 adapterHash) external view returns (uint256) {
        return _getModelRegistryStorage().modelIdByAdapterHash[adapterHash];
    }

    /// @inheritdoc IModelRegistry
    function baseModelIdByContentHash(bytes32 contentHash) external view returns (uint256) {
        return _getModelRegistryStorage().baseModelIdByContentHash[contentHash];
    }

    /// @inheritdoc IModelRegistry
    function modelsOf(address owner) external view returns (uint256[] memory) {
        return _getModelRegistryStorage().modelsByOwner[owner].values();
    }

    /// @inheritdoc IModelRegistry
    function versionsOf(uint256 modelId) external view returns (uint256[] memory) {
        return _getModelRegistryStorage().versions[modelId];
    }

    // ------------------------------------------------------------------ internal

    function _validateParams(
        ModelRegistryStorage storage $,
        ModelParams calldata params,
        ICoTrainingShares.ContributorConsent[] calldata contributors
    ) private view {
        if (params.adapterHash == bytes32(0)) revert ModelRegistry_ZeroHash();
        uint256 existing = $.modelIdByAdapterHash[params.adapterHash];
        if (existing != 0) revert ModelRegistry_AdapterAlreadyRegistered(params.adapterHash, existing);
        if (params.baseModelId == 0 || params.baseModelId > $.baseModelCount) {
            revert ModelRegistry_UnknownBaseModel(params.baseModelId);
        }
        if (params.parentModelId != 0) {
            _checkModelExists($, params.parentModelId);
            if ($.models[params.parentModelId].owner != msg.sender) {
                revert ModelRegistry_NotParentOwner(params.parentModelId, msg.sender);
            }
        }
        if (params.vaultShareBps > MAX_BPS) revert ModelRegistry_VaultShareTooHigh(params.vaultShareBps);
        address trainer = params.trainer;
        if (trainer == address(0)) revert ModelRegistry_ZeroAddress();
        if (trainer != msg.sender) {
            // The trainer is named in the provenance, so it must be a contributor (who signs) if it is
            // not the registrant itself.
            bool listed;
            for (uint256 i; i < contributors.length; ++i) {
                if (contributors[i].account == trainer) {
                    listed = true;
                    break;
                }
            }
            if (!listed) revert ModelRegistry_TrainerNotConsenting(trainer);
        }
    }

    function _storeModel(ModelRegistryStorage storage $, uint256 modelId, address vault, ModelParams calldata params)
        private
    {
        Model storage m = $.models[modelId];
        m.owner = msg.sender;
        m.vaultShareBps = params.vaultShareBps;
        m.status = ModelStatus.Active;
        m.registeredAt = uint64(block.timestamp);
        m.trainer = params.trainer;
        m.vault = vault;
        m.adapterHash = params.adapterHash;
        m.baseModelId = params.baseModelId;
        m.parentModelId = params.parentModelId;
        m.pricePerCall = params.pricePerCall;
        m.metadataURI = params.metadataURI;
        m.datasetHashes = params.datasetHashes;
    }

    function _checkModelExists(ModelRegistryStorage storage $, uint256 modelId) private view {
        if (modelId == 0 || modelId > $.modelCount) revert ModelRegistry_UnknownModel(modelId);
    }

    function _checkModelOwner(ModelRegistryStorage storage $, uint256 modelId) private view {
        _checkModelExists($, modelId);
        if ($.models[modelId].owner != msg.sender) revert ModelRegistry_NotModelOwner(modelId, msg.sender);
    }

    function _authorizeUpgrade(address) internal override onlyRole(UPGRADER_ROLE) {}
}
