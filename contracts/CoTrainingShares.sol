// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {ICoTrainingShares} from "./interfaces/ICoTrainingShares.sol";
import {IModelRegistry} from "./interfaces/IModelRegistry.sol";
import {IRevenueFlush} from "./interfaces/IRevenueFlush.sol";
import {ConsentTypes} from "./libraries/ConsentTypes.sol";
import {RewardMath} from "./libraries/RewardMath.sol";
import {AccessControlUpgradeable} from "@openzeppelin/contracts-upgradeable/access/AccessControlUpgradeable.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {PausableUpgradeable} from "@openzeppelin/contracts-upgradeable/utils/PausableUpgradeable.sol";
import {EIP712Upgradeable} from "@openzeppelin/contracts-upgradeable/utils/cryptography/EIP712Upgradeable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";

/// @title CoTrainingShares
/// @notice Co-training share units per (model, account), set and changed only with the consent of
///         the accounts whose units change, and the pull-based distribution of each model's holder
///         revenue through a reward-per-unit accumulator.
/// @dev See {ICoTrainingShares} for the protocol. UUPS proxy; ERC-7201 storage.
contract CoTrainingShares is
    Initializable,
    AccessControlUpgradeable,
    PausableUpgradeable,
    EIP712Upgradeable,
    UUPSUpgradeable,
    ICoTrainingShares
{
    using EnumerableSet for EnumerableSet.AddressSet;
    using SafeERC20 for IERC20;

    bytes32 public constant UPGRADER_ROLE = keccak256("UPGRADER_ROLE");
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");
    bytes32 public constant SETTLEMENT_ROLE = keccak256("SETTLEMENT_ROLE");
    uint256 public constant PRECISION = RewardMath.PRECISION;
    bytes32 public constant REGISTRATION_CONSENT_TYPEHASH = ConsentTypes.REGISTRATION_CONSENT_TYPEHASH;
    bytes32 public constant UNITS_CHANGE_CONSENT_TYPEHASH = ConsentTypes.UNITS_CHANGE_CONSENT_TYPEHASH;
    /// @dev Bound on a model's total units that keeps `units × rewardPerUnit` far from overflow.
    uint256 internal constant MAX_TOTAL_UNITS = type(uint128).max;

    struct Holder {
        uint256 units;
        uint256 rewardPerUnitPaid; // the accumulator at the holder's last checkpoint
        uint256 accrued; // earned up to the last checkpoint and not yet claimed
    }

    struct ModelShares {
        uint256 totalUnits;
        uint256 rewardPerUnit; // scaled by PRECISION
        uint256 carry; // revenue × PRECISION not yet distributed (rounding remainder)
        uint256 totalCredited;
        uint256 totalClaimed;
        uint256 rounds;
        EnumerableSet.AddressSet holders;
        mapping(address account => Holder) holder;
    }

    /// @custom:storage-location erc7201:openlora.storage.CoTrainingShares
    struct CoTrainingSharesStorage {
        IERC20 asset;
        address registry;
        uint256 totalOwed; // credited and not yet claimed, over all models
        mapping(uint256 modelId => ModelShares) models;
        mapping(address account => mapping(uint256 nonce => bool)) nonceUsed;
        address settlement; // flushed before any units change or claim (zero: none)
    }

    // keccak256(abi.encode(uint256(keccak256("openlora.storage.CoTrainingShares")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant CO_TRAINING_SHARES_STORAGE_LOCATION =
        0x773e46c2156f6fd378788f9b31e75b130c0dc9f867646b2f71789982baed3c00;

    function _getCoTrainingSharesStorage() private pure returns (CoTrainingSharesStorage storage $) {
        assembly {
            $.slot := CO_TRAINING_SHARES_STORAGE_LOCATION
        }
    }

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    /// @notice Initializes the proxy.
    /// @param admin receives `DEFAULT_ADMIN_ROLE`, `UPGRADER_ROLE` and `PAUSER_ROLE`.
    /// @param asset_ the payment asset.
    /// @param registry_ the model registry (the only caller of {initializeModel}).
    function initialize(address admin, IERC20 asset_, address registry_) external initializer {
        if (admin == address(0) || address(asset_) == address(0) || registry_ == address(0)) {
            revert Shares_ZeroAddress();
        }
        __AccessControl_init();
        __Pausable_init();
        __EIP712_init("OpenLoRA CoTrainingShares", "1");
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(UPGRADER_ROLE, admin);
        _grantRole(PAUSER_ROLE, admin);
        CoTrainingSharesStorage storage $ = _getCoTrainingSharesStorage();
        $.asset = asset_;
        $.registry = registry_;
    }

    // ------------------------------------------------------------------ registry

    /// @inheritdoc ICoTrainingShares
    function initializeModel(
        uint256 modelId,
        address registrant,
        bytes32 adapterHash,
        ContributorConsent[] calldata contributors
    ) external whenNotPaused returns (uint256 total) {
        CoTrainingSharesStorage storage $ = _getCoTrainingSharesStorage();
        if (msg.sender != $.registry) revert Shares_CallerNotRegistry(msg.sender);
        ModelShares storage m = $.models[modelId];
        if (m.totalUnits != 0) revert Shares_ModelAlreadyInitialized(modelId);
        uint256 n = contributors.length;
        if (n == 0) revert Shares_NoContributors();

        // First pass: the total, which every consent binds.
        address previous;
        for (uint256 i; i < n; ++i) {
            ContributorConsent calldata c = contributors[i];
            if (c.account <= previous) {
                if (c.account == address(0)) revert Shares_ZeroAddress();
                revert Shares_AccountsNotAscending(previous, c.account);
            }
            if (c.units == 0) revert Shares_ZeroUnits(c.account);
            previous = c.account;
            total += c.units;
        }
        if (total > MAX_TOTAL_UNITS) revert Shares_TotalUnitsTooLarge(total);

        // Second pass: consents, then the units. The model has no revenue yet, so no checkpoint is due.
        for (uint256 i; i < n; ++i) {
            _addContributor($, m, modelId, registrant, adapterHash, contributors[i], total);
        }
        m.totalUnits = total;
        emit ModelInitialized(modelId, registrant, total);
    }

    // ------------------------------------------------------------------ holders

    /// @inheritdoc ICoTrainingShares
    function applyTrainingRound(uint256 modelId, UnitsChange[] calldata changes)
        external
        whenNotPaused
        returns (uint256 total)
    {
        CoTrainingSharesStorage storage $ = _getCoTrainingSharesStorage();
        address owner = IModelRegistry($.registry).ownerOf(modelId);
        if (msg.sender != owner) revert Shares_NotModelOwner(modelId, msg.sender);
        ModelShares storage m = $.models[modelId];
        if (m.totalUnits == 0) revert Shares_UnknownModel(modelId);
        _flush($, modelId);
        uint256 n = changes.length;
        if (n == 0) revert Shares_NoContributors();

        // First pass: the new total, which every consent binds.
        total = m.totalUnits;
        address previous;
        for (uint256 i; i < n; ++i) {
            UnitsChange calldata c = changes[i];
            if (c.account <= previous) {
                if (c.account == address(0)) revert Shares_ZeroAddress();
                revert Shares_AccountsNotAscending(previous, c.account);
            }
            previous = c.account;
            uint256 fromUnits = m.holder[c.account].units;
            if (c.toUnits == fromUnits) revert Shares_UnitsUnchanged(c.account, fromUnits);
            // Cannot underflow: `total` includes `fromUnits` of this distinct account.
            total = total - fromUnits + c.toUnits;
        }
        if (total == 0) revert Shares_TotalUnitsZero(modelId);
        if (total > MAX_TOTAL_UNITS) revert Shares_TotalUnitsTooLarge(total);

        // Second pass: consents, then checkpoint and change each account.
        for (uint256 i; i < n; ++i) {
            _applyUnitsChange($, m, modelId, changes[i], total);
        }
        m.totalUnits = total;
        uint256 round = ++m.rounds;
        emit TrainingRoundApplied(modelId, round, total);
    }

    /// @inheritdoc ICoTrainingShares
    function transferUnits(uint256 modelId, address to, uint256 units) external whenNotPaused {
        if (to == address(0)) revert Shares_ZeroAddress();
        if (units == 0 || to == msg.sender) revert Shares_InvalidTransfer(modelId, msg.sender, to, units);
        CoTrainingSharesStorage storage $ = _getCoTrainingSharesStorage();
        _flush($, modelId);
        ModelShares storage m = $.models[modelId];
        Holder storage from = m.holder[msg.sender];
        uint256 held = from.units;
        if (held < units) revert Shares_InsufficientUnits(modelId, msg.sender, held, units);
        Holder storage dest = m.holder[to];
        _checkpoint(m, from);
        _checkpoint(m, dest);
        // Cannot underflow: checked above. Cannot overflow: both sides are parts of totalUnits < 2^128.
        unchecked {
            from.units = held - units;
            dest.units += units;
        }
        if (held == units) m.holders.remove(msg.sender);
        m.holders.add(to);
        emit UnitsTransferred(modelId, msg.sender, to, units);
    }

    /// @inheritdoc ICoTrainingShares
    function claim(uint256 modelId) external returns (uint256 amount) {
        CoTrainingSharesStorage storage $ = _getCoTrainingSharesStorage();
        amount = _claim($, modelId, msg.sender);
        if (amount != 0) $.asset.safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc ICoTrainingShares
    function claimMany(uint256[] calldata modelIds) external returns (uint256 amount) {
        CoTrainingSharesStorage storage $ = _getCoTrainingSharesStorage();
        for (uint256 i; i < modelIds.length; ++i) {
            amount += _claim($, modelIds[i], msg.sender);
        }
        if (amount != 0) $.asset.safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc ICoTrainingShares
    function invalidateNonce(uint256 nonce) external {
        CoTrainingSharesStorage storage $ = _getCoTrainingSharesStorage();
        if ($.nonceUsed[msg.sender][nonce]) revert Shares_NonceUsed(msg.sender, nonce);
        $.nonceUsed[msg.sender][nonce] = true;
        emit NonceInvalidated(msg.sender, nonce);
    }

    // ------------------------------------------------------------------ settlement

    /// @inheritdoc ICoTrainingShares
    function creditRevenue(uint256 modelId, uint256 amount) external onlyRole(SETTLEMENT_ROLE) {
        _creditRevenue(_getCoTrainingSharesStorage(), modelId, amount);
    }

    /// @inheritdoc ICoTrainingShares
    function creditVaultRevenue(uint256 modelId, uint256 amount) external {
        CoTrainingSharesStorage storage $ = _getCoTrainingSharesStorage();
        if (IModelRegistry($.registry).getModelTerms(modelId).vault != msg.sender) {
            revert Shares_CallerNotVault(modelId, msg.sender);
        }
        _creditRevenue($, modelId, amount);
    }

    // ------------------------------------------------------------------ admin

    /// @inheritdoc ICoTrainingShares
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @inheritdoc ICoTrainingShares
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    /// @inheritdoc ICoTrainingShares
    function sweepSurplus(address to) external onlyRole(DEFAULT_ADMIN_ROLE) returns (uint256 amount) {
        if (to == address(0)) revert Shares_ZeroAddress();
        CoTrainingSharesStorage storage $ = _getCoTrainingSharesStorage();
        uint256 balance = $.asset.balanceOf(address(this));
        // creditRevenue keeps balance >= totalOwed and claims lower both by the same amount; the
        // guard only matters for an asset that can take tokens away (rebasing), never the case here.
        amount = balance > $.totalOwed ? balance - $.totalOwed : 0;
        if (amount != 0) $.asset.safeTransfer(to, amount);
        emit SurplusSwept(to, amount);
    }

    // ------------------------------------------------------------------ views

    /// @notice Settlement, flushed before any units change or claim (zero: none).
    function settlement() external view returns (address) {
        return _getCoTrainingSharesStorage().settlement;
    }

    /// @notice Sets {settlement}. Admin only.
    function setSettlement(address settlement_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _getCoTrainingSharesStorage().settlement = settlement_;
    }

    /// @inheritdoc ICoTrainingShares
    function asset() external view returns (IERC20) {
        return _getCoTrainingSharesStorage().asset;
    }

    /// @inheritdoc ICoTrainingShares
    function registry() external view returns (address) {
        return _getCoTrainingSharesStorage().registry;
    }

    /// @inheritdoc ICoTrainingShares
    function unitsOf(uint256 modelId, address account) external view returns (uint256) {
        return _getCoTrainingSharesStorage().models[modelId].holder[account].units;
    }

    /// @inheritdoc ICoTrainingShares
    function totalUnits(uint256 modelId) external view returns (uint256) {
        return _getCoTrainingSharesStorage().models[modelId].totalUnits;
    }

    /// @inheritdoc ICoTrainingShares
    function holdersOf(uint256 modelId) external view returns (address[] memory accounts, uint256[] memory units) {
        ModelShares storage m = _getCoTrainingSharesStorage().models[modelId];
        accounts = m.holders.values();
        units = new uint256[](accounts.length);
        for (uint256 i; i < accounts.length; ++i) {
            units[i] = m.holder[accounts[i]].units;
        }
    }

    /// @inheritdoc ICoTrainingShares
    /// @dev Includes the holders' part of the model's revenue pending in Settlement, credited as
    ///      {claim} would credit it (claims flush first), so the view is what a claim pays.
    function claimable(uint256 modelId, address account) external view returns (uint256) {
        CoTrainingSharesStorage storage $ = _getCoTrainingSharesStorage();
        ModelShares storage m = $.models[modelId];
        Holder storage h = m.holder[account];
        uint256 rewardPerUnit_ = m.rewardPerUnit;
        address settlement_ = $.settlement;
        if (settlement_ != address(0) && m.totalUnits != 0) {
            (,,, uint256 holdersPending) = IRevenueFlush(settlement_).pendingSplitOf(modelId);
            if (holdersPending != 0) {
                (uint256 delta,) = RewardMath.credit(holdersPending, m.totalUnits, m.carry);
                rewardPerUnit_ += delta;
            }
        }
        return h.accrued + RewardMath.earned(h.units, rewardPerUnit_, h.rewardPerUnitPaid);
    }

    /// @inheritdoc ICoTrainingShares
    function rewardPerUnit(uint256 modelId) external view returns (uint256) {
        return _getCoTrainingSharesStorage().models[modelId].rewardPerUnit;
    }

    /// @inheritdoc ICoTrainingShares
    function totalCredited(uint256 modelId) external view returns (uint256) {
        return _getCoTrainingSharesStorage().models[modelId].totalCredited;
    }

    /// @inheritdoc ICoTrainingShares
    function totalClaimed(uint256 modelId) external view returns (uint256) {
        return _getCoTrainingSharesStorage().models[modelId].totalClaimed;
    }

    /// @inheritdoc ICoTrainingShares
    function roundsOf(uint256 modelId) external view returns (uint256) {
        return _getCoTrainingSharesStorage().models[modelId].rounds;
    }

    /// @inheritdoc ICoTrainingShares
    function totalOwed() external view returns (uint256) {
        return _getCoTrainingSharesStorage().totalOwed;
    }

    /// @inheritdoc ICoTrainingShares
    function isNonceUsed(address account, uint256 nonce) external view returns (bool) {
        return _getCoTrainingSharesStorage().nonceUsed[account][nonce];
    }

    /// @inheritdoc ICoTrainingShares
    function registrationConsentDigest(
        address registrant,
        bytes32 adapterHash,
        address contributor,
        uint256 units,
        uint256 totalUnits_,
        uint256 nonce,
        uint256 deadline
    ) external view returns (bytes32) {
        return _hashTypedDataV4(
            ConsentTypes.hashRegistrationConsent(
                registrant, adapterHash, contributor, units, totalUnits_, nonce, deadline
            )
        );
    }

    /// @inheritdoc ICoTrainingShares
    function unitsChangeConsentDigest(
        uint256 modelId,
        address account,
        uint256 fromUnits,
        uint256 toUnits,
        uint256 totalUnits_,
        uint256 nonce,
        uint256 deadline
    ) external view returns (bytes32) {
        return _hashTypedDataV4(
            ConsentTypes.hashUnitsChangeConsent(modelId, account, fromUnits, toUnits, totalUnits_, nonce, deadline)
        );
    }

    // ------------------------------------------------------------------ internal

    /// @dev Checks `c`'s registration consent (unless it is the registrant's own entry) and gives it its units.
    ///      The model has no revenue yet, so no checkpoint is due.
    function _addContributor(
        CoTrainingSharesStorage storage $,
        ModelShares storage m,
        uint256 modelId,
        address registrant,
        bytes32 adapterHash,
        ContributorConsent calldata c,
        uint256 total
    ) private {
        if (c.account != registrant) {
            _useNonce($, c.account, c.nonce, c.deadline);
            bytes32 digest = _hashTypedDataV4(
                ConsentTypes.hashRegistrationConsent(
                    registrant, adapterHash, c.account, c.units, total, c.nonce, c.deadline
                )
            );
            _checkSignature(c.account, digest, c.signature);
        }
        Holder storage h = m.holder[c.account];
        h.units = c.units;
        h.rewardPerUnitPaid = m.rewardPerUnit;
        m.holders.add(c.account);
        emit UnitsChanged(modelId, c.account, 0, c.units, total);
    }

    /// @dev Checks `c`'s units-change consent, checkpoints the account and sets its new units.
    function _applyUnitsChange(
        CoTrainingSharesStorage storage $,
        ModelShares storage m,
        uint256 modelId,
        UnitsChange calldata c,
        uint256 total
    ) private {
        Holder storage h = m.holder[c.account];
        uint256 fromUnits = h.units;
        _useNonce($, c.account, c.nonce, c.deadline);
        bytes32 digest = _hashTypedDataV4(
            ConsentTypes.hashUnitsChangeConsent(modelId, c.account, fromUnits, c.toUnits, total, c.nonce, c.deadline)
        );
        _checkSignature(c.account, digest, c.signature);
        _checkpoint(m, h);
        h.units = c.toUnits;
        if (c.toUnits == 0) m.holders.remove(c.account);
        else m.holders.add(c.account);
        emit UnitsChanged(modelId, c.account, fromUnits, c.toUnits, total);
    }

    /// @dev Moves what `h` earned since its last checkpoint into `accrued`.
    function _creditRevenue(CoTrainingSharesStorage storage $, uint256 modelId, uint256 amount) private {
        ModelShares storage m = $.models[modelId];
        uint256 units = m.totalUnits;
        if (units == 0) revert Shares_UnknownModel(modelId);
        uint256 owed = $.totalOwed + amount;
        uint256 balance = $.asset.balanceOf(address(this));
        if (balance < owed) revert Shares_RevenueNotReceived(balance, owed);
        (uint256 delta, uint256 carry) = RewardMath.credit(amount, units, m.carry);
        uint256 rewardPerUnit_ = m.rewardPerUnit + delta;
        m.rewardPerUnit = rewardPerUnit_;
        m.carry = carry;
        uint256 credited = m.totalCredited + amount;
        m.totalCredited = credited;
        $.totalOwed = owed;
        emit RevenueCredited(modelId, amount, credited, rewardPerUnit_);
    }

    /// @dev Reward per unit must take in what was settled under the units as they are now.
    function _flush(CoTrainingSharesStorage storage $, uint256 modelId) private {
        address settlement_ = $.settlement;
        if (settlement_ != address(0)) IRevenueFlush(settlement_).flush(modelId);
    }

    function _checkpoint(ModelShares storage m, Holder storage h) private {
        uint256 rewardPerUnit_ = m.rewardPerUnit;
        uint256 paid = h.rewardPerUnitPaid;
        if (paid == rewardPerUnit_) return;
        h.accrued += RewardMath.earned(h.units, rewardPerUnit_, paid);
        h.rewardPerUnitPaid = rewardPerUnit_;
    }

    /// @dev Books `account`'s claim from `modelId` and returns the amount; the caller transfers.
    function _claim(CoTrainingSharesStorage storage $, uint256 modelId, address account)
        private
        returns (uint256 amount)
    {
        _flush($, modelId);
        ModelShares storage m = $.models[modelId];
        Holder storage h = m.holder[account];
        _checkpoint(m, h);
        amount = h.accrued;
        if (amount == 0) return 0;
        h.accrued = 0;
        uint256 claimed = m.totalClaimed + amount;
        m.totalClaimed = claimed;
        // Cannot underflow: the amount is part of what was credited and is still owed (RewardMath
        // never hands out more than was credited).
        $.totalOwed -= amount;
        emit RewardsClaimed(modelId, account, amount, claimed);
    }

    function _useNonce(CoTrainingSharesStorage storage $, address account, uint256 nonce, uint256 deadline) private {
        // A deadline is measured in minutes or days; a validator's leeway of seconds does not matter.
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp > deadline) revert Shares_SignatureExpired(account, deadline);
        if ($.nonceUsed[account][nonce]) revert Shares_NonceUsed(account, nonce);
        $.nonceUsed[account][nonce] = true;
    }

    function _checkSignature(address account, bytes32 digest, bytes calldata signature) private view {
        if (!SignatureChecker.isValidSignatureNow(account, digest, signature)) revert Shares_InvalidSignature(account);
    }

    function _authorizeUpgrade(address) internal override onlyRole(UPGRADER_ROLE) {}
}
