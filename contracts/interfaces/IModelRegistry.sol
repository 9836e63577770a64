// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {ICoTrainingShares} from "./ICoTrainingShares.sol";
import {IModelVaultFactory} from "./IModelVaultFactory.sol";

/// @title IModelRegistry
/// @notice The registry of OpenLoRA models: base models (the frozen pretrained networks that runners
///         load once) and adapters (LoRA adapters trained on a base model, the things consumers pay
///         to call). Every adapter carries its provenance (owner, trainer, adapter content hash,
///         base model, dataset hashes, parent version, metadata URI), its commercial terms (price
///         per call, share of revenue for its vault), a status, and usage counters that only the
///         settlement contract raises.
/// @dev Adapters ("models") and base models have separate id spaces, each sequential from 1; id 0
///      means "none". Registering an adapter also sets up its co-training share units in
///      {ICoTrainingShares} (every contributor consents with an EIP-712 signature) and creates its
///      ERC-4626 vault through the {IModelVaultFactory}.
///      Roles (OpenZeppelin AccessControl): `DEFAULT_ADMIN_ROLE` manages roles and wires the
///      modules once; `UPGRADER_ROLE` authorises UUPS upgrades; `PAUSER_ROLE` pauses new
///      registrations; `SETTLEMENT_ROLE` (the Settlement contract) raises usage counters.
interface IModelRegistry {
    /// @notice Lifecycle of an adapter. `None` is only ever read for an id that was never registered.
    /// @dev Active and Paused can be switched by the model owner; Retired is final. The registry
    ///      does not enforce the status on payments itself: Settlement and runners read it.
    enum ModelStatus {
        None,
        Active,
        Paused,
        Retired
    }

    /// @notice A registered base model.
    struct BaseModel {
        address owner; // who registered it
        uint64 registeredAt; // block timestamp of registration
        bytes32 contentHash; // keccak256 of the base model file (e.g. the ONNX bytes); unique in the registry
        string metadataURI; // where its description lives (name, architecture, license, download)
    }

    /// @notice A registered adapter with its provenance, terms, status and usage.
    struct Model {
        address owner; // controls terms, status and metadata; receives nothing by itself
        uint16 vaultShareBps; // share of the model's net revenue (after fees) that goes to its vault
        ModelStatus status;
        uint64 registeredAt; // block timestamp of registration
        address trainer; // who trained the adapter (the registrant or one of the consenting contributors)
        address vault; // the model's ERC-4626 vault
        bytes32 adapterHash; // keccak256 of the adapter file bytes; unique in the registry
        uint256 baseModelId; // the base model the adapter was trained on
        uint256 parentModelId; // the previous version of this model, 0 for a first version
        uint256 pricePerCall; // in payment-asset units (e.g. 6-decimal tUSD)
        uint256 totalCalls; // cumulative calls settled for this model
        uint256 totalRevenue; // cumulative gross revenue settled for this model, in payment-asset units
        string metadataURI; // name, description, task, metrics, manifest location
        bytes32[] datasetHashes; // keccak256 of each training dataset (or of its manifest)
    }

    /// @notice What Settlement needs about a model, in one call and without strings or arrays.
    struct ModelTerms {
        address owner;
        address vault;
        bytes32 adapterHash;
        uint256 baseModelId;
        uint256 pricePerCall;
        uint16 vaultShareBps;
        ModelStatus status;
    }

    /// @notice What a registrant provides for a new adapter (the registrant becomes its owner).
    struct ModelParams {
        address trainer; // must be the registrant or one of the consenting contributors
        bytes32 adapterHash;
        uint256 baseModelId;
        uint256 parentModelId; // 0, or a model owned by the registrant (this is a new version of it)
        uint256 pricePerCall;
        uint16 vaultShareBps; // at most 10_000
        string metadataURI;
        bytes32[] datasetHashes;
    }

    // ------------------------------------------------------------------ events

    /// @notice The shares contract and the vault factory were wired to the registry (once).
    event ModulesSet(address indexed shares, address indexed vaultFactory);

    /// @notice A base model was registered.
    event BaseModelRegistered(
        uint256 indexed baseModelId, address indexed owner, bytes32 indexed contentHash, string metadataURI
    );

    /// @notice An adapter was registered. Its terms, metadata and datasets follow in
    ///         {PricePerCallSet}, {VaultShareSet}, {MetadataURISet} and {DatasetsRecorded} of the same
    ///         transaction; its contributors in {ICoTrainingShares.UnitsChanged}.
    event ModelRegistered(
        uint256 indexed modelId,
        address indexed owner,
        uint256 indexed baseModelId,
        bytes32 adapterHash,
        address trainer,
        uint256 parentModelId,
        address vault
    );

    /// @notice The dataset hashes of a model's provenance were recorded (at registration).
    event DatasetsRecorded(uint256 indexed modelId, bytes32[] datasetHashes);

    /// @notice A model's price per call was set (at registration or by its owner).
    event PricePerCallSet(uint256 indexed modelId, uint256 pricePerCall);

    /// @notice A model's vault share was set (at registration or by its owner).
    event VaultShareSet(uint256 indexed modelId, uint16 vaultShareBps);

    /// @notice A model's metadata URI was set (at registration or by its owner).
    event MetadataURISet(uint256 indexed modelId, string metadataURI);

    /// @notice A model's status changed.
    event ModelStatusChanged(uint256 indexed modelId, ModelStatus previousStatus, ModelStatus newStatus);

    /// @notice A model changed owner.
    event ModelOwnershipTransferred(uint256 indexed modelId, address indexed previousOwner, address indexed newOwner);

    /// @notice Settlement recorded usage of a model; `totalCalls` and `totalRevenue` are the new
    ///         cumulative counters, so an indexer that missed a log can resynchronise.
    event UsageRecorded(
        uint256 indexed modelId, uint256 calls, uint256 revenue, uint256 totalCalls, uint256 totalRevenue
    );

    // ------------------------------------------------------------------ errors

    /// @notice A zero address was passed where an account or contract is required.
    error ModelRegistry_ZeroAddress();
    /// @notice A zero content or adapter hash was passed.
    error ModelRegistry_ZeroHash();
    /// @notice {setModules} was already called.
    error ModelRegistry_ModulesAlreadySet(address shares, address vaultFactory);
    /// @notice The modules passed to {setModules} do not point back at this registry or do not share one asset.
    error ModelRegistry_ModulesMismatch(address shares, address vaultFactory);
    /// @notice An adapter was registered before {setModules}.
    error ModelRegistry_ModulesNotSet();
    /// @notice No model has this id.
    error ModelRegistry_UnknownModel(uint256 modelId);
    /// @notice No base model has this id.
    error ModelRegistry_UnknownBaseModel(uint256 baseModelId);
    /// @notice A base model with this content hash already exists.
    error ModelRegistry_BaseModelAlreadyRegistered(bytes32 contentHash, uint256 baseModelId);
    /// @notice A model with this adapter hash already exists.
    error ModelRegistry_AdapterAlreadyRegistered(bytes32 adapterHash, uint256 modelId);
    /// @notice The caller does not own the model.
    error ModelRegistry_NotModelOwner(uint256 modelId, address caller);
    /// @notice The caller registers a new version of a model it does not own.
    error ModelRegistry_NotParentOwner(uint256 parentModelId, address caller);
    /// @notice The trainer is neither the registrant nor a consenting contributor.
    error ModelRegistry_TrainerNotConsenting(address trainer);
    /// @notice A vault share above 10_000 bps.
    error ModelRegistry_VaultShareTooHigh(uint256 vaultShareBps);
    /// @notice The model is retired; its terms and status can no longer change.
    error ModelRegistry_ModelRetired(uint256 modelId);
    /// @notice The requested status transition is not allowed (to None, or to the current status).
    error ModelRegistry_InvalidStatus(uint256 modelId, ModelStatus status);

    // ------------------------------------------------------------------ roles

    /// @notice Role that authorises UUPS upgrades of the registry.
    function UPGRADER_ROLE() external view returns (bytes32);
    /// @notice Role that pauses and unpauses registrations.
    function PAUSER_ROLE() external view returns (bytes32);
    /// @notice Role of the Settlement contract: the only one that may call {recordUsage}.
    function SETTLEMENT_ROLE() external view returns (bytes32);

    // ------------------------------------------------------------------ admin

    /// @notice Wires the co-training shares contract and the vault factory, once. Both must name this
    ///         registry and use the same payment asset. Only `DEFAULT_ADMIN_ROLE`.
    function setModules(ICoTrainingShares shares, IModelVaultFactory vaultFactory) external;

    /// @notice Stops new registrations (base models and adapters). Only `PAUSER_ROLE`. Owners can
    ///         still manage their models and Settlement can still record usage.
    function pause() external;

    /// @notice Resumes registrations. Only `PAUSER_ROLE`.
    function unpause() external;

    // ------------------------------------------------------------------ registration

    /// @notice Registers a base model; the caller becomes its owner. Permissionless; one entry per
    ///         content hash.
    /// @param contentHash keccak256 of the base model file.
    /// @param metadataURI where the model is described.
    /// @return baseModelId the new id (sequential from 1).
    function registerBaseModel(bytes32 contentHash, string calldata metadataURI) external returns (uint256 baseModelId);

    /// @notice Registers an adapter with its provenance and terms, sets its contributors' share units
    ///         (each consenting, see {ICoTrainingShares.initializeModel}) and creates its vault. The
    ///         caller becomes the owner. Reverts while paused.
    /// @param params provenance and terms, see {ModelParams}.
    /// @param contributors at least one, strictly ascending by address; each with units > 0 and a
    ///        consent signature (none needed for the caller itself).
    /// @return modelId the new id (sequential from 1).
    /// @return vault the address of the model's new ERC-4626 vault.
    function registerModel(ModelParams calldata params, ICoTrainingShares.ContributorConsent[] calldata contributors)
        external
        returns (uint256 modelId, address vault);

    // ------------------------------------------------------------------ model owner

    /// @notice Sets the price per call. Only the model owner; not on a retired model.
    function setPricePerCall(uint256 modelId, uint256 pricePerCall) external;

    /// @notice Sets the vault share in bps (at most 10_000). Only the model owner; not on a retired model.
    function setVaultShareBps(uint256 modelId, uint16 vaultShareBps) external;

    /// @notice Sets the metadata URI. Only the model owner.
    function setMetadataURI(uint256 modelId, string calldata metadataURI) external;

    /// @notice Sets the status: Active or Paused, or Retired (final). Only the model owner.
    function setStatus(uint256 modelId, ModelStatus status) external;

    /// @notice Hands the model to a new owner. Only the model owner. Share units are not affected.
    function transferModelOwnership(uint256 modelId, address newOwner) external;

    // ------------------------------------------------------------------ settlement

    /// @notice Raises the usage counters of a model by what a settlement paid for. Only
    ///         `SETTLEMENT_ROLE`. Works whatever the model's status and while paused: calls that were
    ///         served and paid are always recorded.
    /// @param modelId the model (must exist).
    /// @param calls number of calls settled.
    /// @param revenue gross amount settled for those calls, in payment-asset units.
    /// @return vault the model's vault and `vaultShareBps` its vault share: what Settlement needs to
    ///         split the revenue, returned here so that settling a model takes one registry call.
    function recordUsage(uint256 modelId, uint256 calls, uint256 revenue)
        external
        returns (address vault, uint16 vaultShareBps);

    // ------------------------------------------------------------------ views

    /// @notice The co-training shares contract (zero before {setModules}).
    function shares() external view returns (ICoTrainingShares);

    /// @notice The vault factory (zero before {setModules}).
    function vaultFactory() external view returns (IModelVaultFactory);

    /// @notice Number of adapters registered; ids run from 1 to this.
    function modelCount() external view returns (uint256);

    /// @notice Number of base models registered; ids run from 1 to this.
    function baseModelCount() external view returns (uint256);

    /// @notice A model with its full provenance. Reverts for an unknown id.
    function getModel(uint256 modelId) external view returns (Model memory);

    /// @notice What Settlement needs about a model in one call. Reverts for an unknown id.
    function getModelTerms(uint256 modelId) external view returns (ModelTerms memory);

    /// @notice A base model. Reverts for an unknown id.
    function getBaseModel(uint256 baseModelId) external view returns (BaseModel memory);

    /// @notice Owner of a model. Reverts for an unknown id.
    function ownerOf(uint256 modelId) external view returns (address);

    /// @notice The model registered with this adapter hash, 0 if none.
    function modelIdByAdapterHash(bytes32 adapterHash) external view returns (uint256);

    /// @notice The base model registered with this content hash, 0 if none.
    function baseModelIdByContentHash(bytes32 contentHash) external view returns (uint256);

    /// @notice Ids of the models an account owns (in no particular order).
    function modelsOf(address owner) external view returns (uint256[] memory);

    /// @notice Ids of the models registered as new versions of `modelId` (in registration order).
    function versionsOf(uint256 modelId) external view returns (uint256[] memory);
}
