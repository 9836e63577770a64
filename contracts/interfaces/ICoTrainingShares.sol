// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title ICoTrainingShares
/// @notice Co-training share units per (model, account) and the pull-based distribution of each
///         model's holder revenue. Units are set at registration from the contributors list and
///         change afterwards only by a transfer (signed by the sender, who sends) or by a new
///         training round that every account whose units change signs. Revenue credited to a model
///         raises its reward-per-unit accumulator; each account's earnings are checkpointed before
///         its units change, so transfers and new rounds never move rewards already earned.
/// @dev Consent is EIP-712 typed data under this contract's own domain
///      (`name = "OpenLoRA CoTrainingShares"`, `version = "1"`, chain id, this proxy's address), with
///      an unordered per-signer nonce (any unused uint256; {invalidateNonce} cancels one) and a
///      deadline. Signatures may come from EOAs or ERC-1271 contracts. The typed structs:
///
///      RegistrationConsent(address registrant,bytes32 adapterHash,address contributor,uint256 units,uint256 totalUnits,uint256 nonce,uint256 deadline)
///      UnitsChangeConsent(uint256 modelId,address account,uint256 fromUnits,uint256 toUnits,uint256 totalUnits,uint256 nonce,uint256 deadline)
///
///      `totalUnits` is the model's total after the registration or round, so a signer agrees to a
///      fraction, not just a number. Revenue arrives push-then-notify: Settlement transfers the asset
///      here, then calls {creditRevenue}, which checks the balance covers all that is owed.
///      Roles: `DEFAULT_ADMIN_ROLE`, `UPGRADER_ROLE` (UUPS), `PAUSER_ROLE` (pauses unit transfers,
///      rounds and new models; never claims or crediting), `SETTLEMENT_ROLE` ({creditRevenue}).
interface ICoTrainingShares {
    /// @notice A contributor listed at registration, with its consent.
    struct ContributorConsent {
        address account;
        uint256 units; // > 0
        uint256 nonce; // unused nonce of `account`; ignored when `account` is the registrant
        uint256 deadline; // unix time after which the signature is void; ignored for the registrant
        bytes signature; // EIP-712 RegistrationConsent by `account`; empty when `account` is the registrant
    }

    /// @notice One account's new units in a training round, with its consent.
    struct UnitsChange {
        address account;
        uint256 toUnits; // the account's units after the round (0 removes it)
        uint256 nonce;
        uint256 deadline;
        bytes signature; // EIP-712 UnitsChangeConsent by `account` (always required)
    }

    // ------------------------------------------------------------------ events

    /// @notice A model's share units were set up at registration; {UnitsChanged} follows per contributor.
    event ModelInitialized(uint256 indexed modelId, address indexed registrant, uint256 totalUnits);

    /// @notice An account's units in a model changed by consent (registration or training round).
    ///         `totalUnits` is the model's total after the change.
    event UnitsChanged(
        uint256 indexed modelId, address indexed account, uint256 fromUnits, uint256 toUnits, uint256 totalUnits
    );

    /// @notice A training round changed a model's units; {UnitsChanged} precedes it per account.
    event TrainingRoundApplied(uint256 indexed modelId, uint256 indexed round, uint256 totalUnits);

    /// @notice Units moved between accounts (the model's total does not change).
    event UnitsTransferred(uint256 indexed modelId, address indexed from, address indexed to, uint256 units);

    /// @notice Revenue was credited to a model's holders. Totals are cumulative for the model;
    ///         `rewardPerUnit` is the new accumulator (scaled by {PRECISION}).
    event RevenueCredited(uint256 indexed modelId, uint256 amount, uint256 totalCredited, uint256 rewardPerUnit);

    /// @notice An account claimed its rewards from a model; `totalClaimed` is the model's cumulative claims.
    event RewardsClaimed(uint256 indexed modelId, address indexed account, uint256 amount, uint256 totalClaimed);

    /// @notice An account cancelled one of its nonces (any signature using it becomes void).
    event NonceInvalidated(address indexed account, uint256 indexed nonce);

    /// @notice Tokens held beyond what is owed (direct transfers) were swept by the admin.
    event SurplusSwept(address indexed to, uint256 amount);

    // ------------------------------------------------------------------ errors

    /// @notice A zero address was passed.
    error Shares_ZeroAddress();
    /// @notice The caller is not the model registry.
    error Shares_CallerNotRegistry(address caller);
    /// @notice The caller does not own the model (per the registry).
    error Shares_NotModelOwner(uint256 modelId, address caller);
    /// @notice The model's units were already set up.
    error Shares_ModelAlreadyInitialized(uint256 modelId);
    /// @notice The model has no units (never registered).
    error Shares_UnknownModel(uint256 modelId);
    /// @notice A registration or round without any entries.
    error Shares_NoContributors();
    /// @notice A contributor was given zero units at registration.
    error Shares_ZeroUnits(address account);
    /// @notice Accounts of a contributors list or round must be strictly ascending (no duplicates).
    error Shares_AccountsNotAscending(address previous, address account);
    /// @notice A round entry does not change the account's units.
    error Shares_UnitsUnchanged(address account, uint256 units);
    /// @notice The model's total units would exceed the supported maximum (2^128 - 1).
    error Shares_TotalUnitsTooLarge(uint256 totalUnits);
    /// @notice A round would leave the model with no units at all.
    error Shares_TotalUnitsZero(uint256 modelId);
    /// @notice The consent's deadline has passed.
    error Shares_SignatureExpired(address account, uint256 deadline);
    /// @notice The nonce was already used or invalidated by this account.
    error Shares_NonceUsed(address account, uint256 nonce);
    /// @notice The signature is not the account's consent to this exact change on this chain and contract.
    error Shares_InvalidSignature(address account);
    /// @notice The sender holds fewer units than it tries to transfer.
    error Shares_InsufficientUnits(uint256 modelId, address account, uint256 held, uint256 wanted);
    /// @notice Zero units transferred, or units transferred to oneself.
    error Shares_InvalidTransfer(uint256 modelId, address from, address to, uint256 units);
    /// @notice {creditRevenue}: the asset balance does not cover what is owed plus the new amount.
    error Shares_RevenueNotReceived(uint256 balance, uint256 required);
    /// @notice {creditVaultRevenue}: the caller is not the model's vault.
    error Shares_CallerNotVault(uint256 modelId, address caller);

    // ------------------------------------------------------------------ roles and constants

    /// @notice Role that authorises UUPS upgrades.
    function UPGRADER_ROLE() external view returns (bytes32);
    /// @notice Role that pauses and unpauses unit transfers, rounds and new models.
    function PAUSER_ROLE() external view returns (bytes32);
    /// @notice Role of the Settlement contract: the only one that may call {creditRevenue}.
    function SETTLEMENT_ROLE() external view returns (bytes32);
    /// @notice Scale of the reward-per-unit accumulator (1e36).
    function PRECISION() external view returns (uint256);
    /// @notice EIP-712 type hash of RegistrationConsent.
    function REGISTRATION_CONSENT_TYPEHASH() external view returns (bytes32);
    /// @notice EIP-712 type hash of UnitsChangeConsent.
    function UNITS_CHANGE_CONSENT_TYPEHASH() external view returns (bytes32);

    // ------------------------------------------------------------------ registry

    /// @notice Sets up a new model's units from its contributors list, checking every consent (the
    ///         registrant's own entry needs none: it is the caller of the registration). Only the
    ///         registry, inside {IModelRegistry.registerModel}. Reverts while paused.
    /// @param modelId the id the registry assigned.
    /// @param registrant the account registering (future owner), bound in every consent.
    /// @param adapterHash the adapter's content hash, bound in every consent.
    /// @param contributors at least one, accounts strictly ascending by address, units > 0.
    /// @return totalUnits the model's total units.
    function initializeModel(
        uint256 modelId,
        address registrant,
        bytes32 adapterHash,
        ContributorConsent[] calldata contributors
    ) external returns (uint256 totalUnits);

    // ------------------------------------------------------------------ holders

    /// @notice Applies a new training round: sets each listed account's units to `toUnits`, each with
    ///         its signed consent (accounts strictly ascending by address). Earnings up to now stay with their earners. Only the model owner.
    ///         Reverts while paused.
    /// @return totalUnits the model's new total (must stay > 0).
    function applyTrainingRound(uint256 modelId, UnitsChange[] calldata changes) external returns (uint256 totalUnits);

    /// @notice Moves `units` of the caller's units in `modelId` to `to`. Earnings up to now stay with
    ///         the caller. Reverts while paused.
    function transferUnits(uint256 modelId, address to, uint256 units) external;

    /// @notice Pays the caller everything it has earned from `modelId`. Never paused.
    /// @return amount what was paid (0 is not an error).
    function claim(uint256 modelId) external returns (uint256 amount);

    /// @notice Claims from several models in one transfer. Never paused.
    /// @return amount the total paid.
    function claimMany(uint256[] calldata modelIds) external returns (uint256 amount);

    /// @notice Cancels one of the caller's nonces so that a consent signed with it can never be used.
    function invalidateNonce(uint256 nonce) external;

    // ------------------------------------------------------------------ settlement

    /// @notice Credits `amount` of revenue to the holders of `modelId` by units. Only
    ///         `SETTLEMENT_ROLE`, after transferring `amount` of the asset to this contract: reverts
    ///         with {Shares_RevenueNotReceived} unless the balance covers {totalOwed} + `amount`.
    ///         Works while paused.
    function creditRevenue(uint256 modelId, uint256 amount) external;

    /// @notice Credits `amount` to the holders of `modelId` as {creditRevenue} does, called by the
    ///         model's own vault (the registry's record) when its last shares leave with revenue
    ///         still locked. Same balance check; works while paused.
    function creditVaultRevenue(uint256 modelId, uint256 amount) external;

    // ------------------------------------------------------------------ admin

    /// @notice Pauses transfers, rounds and new models. Only `PAUSER_ROLE`.
    function pause() external;

    /// @notice Unpauses. Only `PAUSER_ROLE`.
    function unpause() external;

    /// @notice Sends tokens held beyond {totalOwed} (direct transfers) to `to`. Only `DEFAULT_ADMIN_ROLE`.
    /// @return amount what was sent.
    function sweepSurplus(address to) external returns (uint256 amount);

    // ------------------------------------------------------------------ views

    /// @notice The payment asset.
    function asset() external view returns (IERC20);

    /// @notice The model registry.
    function registry() external view returns (address);

    /// @notice Units of `account` in `modelId`.
    function unitsOf(uint256 modelId, address account) external view returns (uint256);

    /// @notice Total units of `modelId` (> 0 for every registered model).
    function totalUnits(uint256 modelId) external view returns (uint256);

    /// @notice Accounts holding units of `modelId` and their units (in no particular order).
    function holdersOf(uint256 modelId) external view returns (address[] memory accounts, uint256[] memory units);

    /// @notice What `account` would receive from {claim}(`modelId`) now.
    function claimable(uint256 modelId, address account) external view returns (uint256);

    /// @notice The model's reward-per-unit accumulator, scaled by {PRECISION}.
    function rewardPerUnit(uint256 modelId) external view returns (uint256);

    /// @notice Cumulative revenue credited to the model's holders.
    function totalCredited(uint256 modelId) external view returns (uint256);

    /// @notice Cumulative rewards claimed from the model.
    function totalClaimed(uint256 modelId) external view returns (uint256);

    /// @notice Number of training rounds applied to the model after registration.
    function roundsOf(uint256 modelId) external view returns (uint256);

    /// @notice Everything credited and not yet claimed, over all models: the asset this contract owes.
    function totalOwed() external view returns (uint256);

    /// @notice Whether `account` has used or invalidated `nonce`.
    function isNonceUsed(address account, uint256 nonce) external view returns (bool);

    /// @notice The EIP-712 digest a contributor signs to consent at registration.
    function registrationConsentDigest(
        address registrant,
        bytes32 adapterHash,
        address contributor,
        uint256 units,
        uint256 totalUnits_,
        uint256 nonce,
        uint256 deadline
    ) external view returns (bytes32);

    /// @notice The EIP-712 digest an account signs to consent to a units change in a round.
    function unitsChangeConsentDigest(
        uint256 modelId,
        address account,
        uint256 fromUnits,
        uint256 toUnits,
        uint256 totalUnits_,
        uint256 nonce,
        uint256 deadline
    ) external view returns (bytes32);
}
