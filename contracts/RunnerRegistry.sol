// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IRunnerRegistry} from "./interfaces/IRunnerRegistry.sol";
import {AccessControlUpgradeable} from "@openzeppelin/contracts-upgradeable/access/AccessControlUpgradeable.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {PausableUpgradeable} from "@openzeppelin/contracts-upgradeable/utils/PausableUpgradeable.sol";
import {
    ReentrancyGuardTransientUpgradeable
} from "@openzeppelin/contracts-upgradeable/utils/ReentrancyGuardTransientUpgradeable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

/// @title RunnerRegistry
/// @notice Runners' endpoints, fees and bonds, with delayed unbonding and slashing by Settlement.
/// @dev See {IRunnerRegistry}. UUPS proxy; ERC-7201 storage. The reentrancy guard uses transient
///      storage only, so it adds nothing to the proxy's storage layout.
contract RunnerRegistry is
    Initializable,
    AccessControlUpgradeable,
    PausableUpgradeable,
    UUPSUpgradeable,
    ReentrancyGuardTransientUpgradeable,
    IRunnerRegistry
{
    using SafeERC20 for IERC20;

    bytes32 public constant UPGRADER_ROLE = keccak256("UPGRADER_ROLE");
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");
    bytes32 public constant FEE_SETTER_ROLE = keccak256("FEE_SETTER_ROLE");
    bytes32 public constant SLASHER_ROLE = keccak256("SLASHER_ROLE");
    uint16 public constant MAX_FEE_BPS_LIMIT = 5000;
    uint256 public constant MIN_UNBONDING_DELAY = 1 hours;
    uint256 public constant MAX_UNBONDING_DELAY = 90 days;
    uint256 public constant MAX_ENDPOINT_LENGTH = 512;
    uint256 internal constant BPS = 10_000;

    /// @dev A runner as stored: what {runnerTerms} reads (registered, fee, bond) shares one slot.
    struct RunnerRecord {
        bool registered;
        uint16 feeBps;
        uint40 registeredAt;
        uint40 unbondingAvailableAt;
        uint128 bond;
        uint128 unbonding;
        uint256 totalSlashed;
        string endpoint;
    }

    /// @custom:storage-location erc7201:openlora.storage.RunnerRegistry
    struct RunnerRegistryStorage {
        IERC20 asset;
        // One slot: the parameters {runnerTerms} and {slash} read.
        uint128 minBond;
        uint16 maxFeeBps;
        uint16 slashBps;
        uint16 reporterRewardBps;
        uint64 unbondingDelay;
        uint256 totalStaked; // bond + unbonding of every runner
        address[] runnerList;
        mapping(address runner => RunnerRecord) runners;
        mapping(address runner => mapping(bytes32 evidence => bool)) evidenceUsed;
    }

    // keccak256(abi.encode(uint256(keccak256("openlora.storage.RunnerRegistry")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant RUNNER_REGISTRY_STORAGE_LOCATION =
        0x3c542b1811066e6d93aa1525f3a1c7e4a5f8c4d8af858c3e077335996cf3fe00;

    function _getRunnerRegistryStorage() private pure returns (RunnerRegistryStorage storage $) {
        assembly {
            $.slot := RUNNER_REGISTRY_STORAGE_LOCATION
        }
    }

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    /// @notice Initializes the proxy.
    /// @param admin receives `DEFAULT_ADMIN_ROLE`, `UPGRADER_ROLE`, `PAUSER_ROLE` and `FEE_SETTER_ROLE`.
    /// @param asset_ the payment asset bonds are staked in.
    /// @param maxFeeBps_ the cap on runner fees (at most {MAX_FEE_BPS_LIMIT}).
    /// @param minBond_ the minimum active bond.
    /// @param unbondingDelay_ in seconds, within [{MIN_UNBONDING_DELAY}, {MAX_UNBONDING_DELAY}].
    /// @param slashBps_ share of the stake slashed per equivocation (1 to 10_000).
    /// @param reporterRewardBps_ the reporter's share of a slashed amount (0 to 10_000).
    function initialize(
        address admin,
        IERC20 asset_,
        uint16 maxFeeBps_,
        uint256 minBond_,
        uint256 unbondingDelay_,
        uint16 slashBps_,
        uint16 reporterRewardBps_
    ) external initializer {
        if (admin == address(0) || address(asset_) == address(0)) {
            revert RunnerRegistry_ZeroAddress();
        }
        __AccessControl_init();
        __Pausable_init();
        __ReentrancyGuardTransient_init();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(UPGRADER_ROLE, admin);
        _grantRole(PAUSER_ROLE, admin);
        _grantRole(FEE_SETTER_ROLE, admin);
        _getRunnerRegistryStorage().asset = asset_;
        _setMaxFeeBps(maxFeeBps_);
        _setMinBond(minBond_);
        _setUnbondingDelay(unbondingDelay_);
        _setSlashParams(slashBps_, reporterRewardBps_);
    }

    // ------------------------------------------------------------------ runners

    /// @inheritdoc IRunnerRegistry
    function register(string calldata endpoint, uint16 feeBps, uint256 bond) external whenNotPaused nonReentrant {
        RunnerRegistryStorage storage $ = _getRunnerRegistryStorage();
        RunnerRecord storage r = $.runners[msg.sender];
        if (r.registered) revert RunnerRegistry_AlreadyRegistered(msg.sender);
        _checkEndpoint(endpoint);
        _checkFee($, feeBps);
        r.registered = true;
        r.feeBps = feeBps;
        r.registeredAt = uint40(block.timestamp);
        r.endpoint = endpoint;
        $.runnerList.push(msg.sender);
        emit RunnerRegistered(msg.sender, endpoint, feeBps);
        if (bond != 0) _stake($, msg.sender, bond);
    }

    /// @inheritdoc IRunnerRegistry
    function setEndpoint(string calldata endpoint) external {
        RunnerRecord storage r = _registered(msg.sender);
        _checkEndpoint(endpoint);
        r.endpoint = endpoint;
        emit EndpointSet(msg.sender, endpoint);
    }

    /// @inheritdoc IRunnerRegistry
    function setFeeBps(uint16 feeBps) external {
        RunnerRecord storage r = _registered(msg.sender);
        _checkFee(_getRunnerRegistryStorage(), feeBps);
        r.feeBps = feeBps;
        emit RunnerFeeSet(msg.sender, feeBps);
    }

    /// @inheritdoc IRunnerRegistry
    function stake(address runner, uint256 amount) external whenNotPaused nonReentrant {
        _registered(runner);
        _stake(_getRunnerRegistryStorage(), runner, amount);
    }

    /// @inheritdoc IRunnerRegistry
    function stakeWithPermit(address runner, uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s)
        external
        whenNotPaused
        nonReentrant
    {
        _registered(runner);
        RunnerRegistryStorage storage $ = _getRunnerRegistryStorage();
        // A permit that was front-run (nonce used) must not block a stake the allowance covers.
        try IERC20Permit(address($.asset)).permit(msg.sender, address(this), amount, deadline, v, r, s) {} catch {}
        _stake($, runner, amount);
    }

    /// @inheritdoc IRunnerRegistry
    function requestUnbond(uint256 amount) external {
        if (amount == 0) revert RunnerRegistry_ZeroAmount();
        RunnerRegistryStorage storage $ = _getRunnerRegistryStorage();
        RunnerRecord storage r = _registered(msg.sender);
        uint256 bond = r.bond;
        if (amount > bond) revert RunnerRegistry_InsufficientBond(msg.sender, bond, amount);
        // Cannot overflow: bond + unbonding is the runner's stake, kept below 2^128 by _stake.
        uint128 unbonding;
        unchecked {
            // casting to 'uint128' is safe because both values are below the 128-bit stake cap.
            // forge-lint: disable-next-line(unsafe-typecast)
            r.bond = uint128(bond - amount);
            // forge-lint: disable-next-line(unsafe-typecast)
            unbonding = r.unbonding + uint128(amount);
        }
        r.unbonding = unbonding;
        uint256 availableAt = block.timestamp + $.unbondingDelay;
        // casting to 'uint40' is safe because a timestamp plus at most 90 days fits in 40 bits until year 36812.
        // forge-lint: disable-next-line(unsafe-typecast)
        r.unbondingAvailableAt = uint40(availableAt);
        emit UnbondRequested(msg.sender, amount, bond - amount, unbonding, availableAt);
    }

    /// @inheritdoc IRunnerRegistry
    function withdrawUnbonded() external nonReentrant returns (uint256 amount) {
        RunnerRegistryStorage storage $ = _getRunnerRegistryStorage();
        RunnerRecord storage r = $.runners[msg.sender];
        amount = r.unbonding;
        if (amount == 0) revert RunnerRegistry_NothingUnbonding(msg.sender);
        uint256 availableAt = r.unbondingAvailableAt;
        // Unbonding delays are hours to days: miners' seconds of drift do not matter.
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp < availableAt) revert RunnerRegistry_UnbondingNotReady(msg.sender, availableAt);
        r.unbonding = 0;
        r.unbondingAvailableAt = 0;
        uint256 total = $.totalStaked - amount;
        $.totalStaked = total;
        emit UnbondWithdrawn(msg.sender, amount, total);
        $.asset.safeTransfer(msg.sender, amount);
    }

    // ------------------------------------------------------------------ slashing

    /// @inheritdoc IRunnerRegistry
    function slash(address runner, bytes32 evidence, address reporter, address treasury)
        external
        onlyRole(SLASHER_ROLE)
        nonReentrant
        returns (uint256 amount)
    {
        if (reporter == address(0) || treasury == address(0)) {
            revert RunnerRegistry_ZeroAddress();
        }
        RunnerRegistryStorage storage $ = _getRunnerRegistryStorage();
        RunnerRecord storage r = _registered(runner);
        if ($.evidenceUsed[runner][evidence]) revert RunnerRegistry_EvidenceUsed(runner, evidence);
        uint256 bond = r.bond;
        uint256 unbonding = r.unbonding;
        amount = (bond + unbonding) * $.slashBps / BPS;
        if (amount == 0) revert RunnerRegistry_NothingToSlash(runner);
        $.evidenceUsed[runner][evidence] = true;
        // Active bond first, then what is unbonding; amount ≤ bond + unbonding as slashBps ≤ BPS.
        if (amount <= bond) {
            bond -= amount;
        } else {
            unbonding -= amount - bond;
            bond = 0;
        }
        // casting to 'uint128' is safe because both only decreased from 128-bit values.
        // forge-lint: disable-next-line(unsafe-typecast)
        r.bond = uint128(bond);
        // forge-lint: disable-next-line(unsafe-typecast)
        r.unbonding = uint128(unbonding);
        if (unbonding == 0) r.unbondingAvailableAt = 0;
        uint256 totalSlashed = r.totalSlashed + amount;
        r.totalSlashed = totalSlashed;
        $.totalStaked -= amount;
        uint256 toReporter = amount * $.reporterRewardBps / BPS;
        uint256 toTreasury = amount - toReporter;
        emit RunnerSlashed(runner, evidence, reporter, amount, toReporter, toTreasury, bond, unbonding, totalSlashed);
        if (toReporter != 0) $.asset.safeTransfer(reporter, toReporter);
        if (toTreasury != 0) $.asset.safeTransfer(treasury, toTreasury);
    }

    // ------------------------------------------------------------------ governance

    /// @inheritdoc IRunnerRegistry
    function setMaxFeeBps(uint16 maxFeeBps_) external onlyRole(FEE_SETTER_ROLE) {
        _setMaxFeeBps(maxFeeBps_);
    }

    /// @inheritdoc IRunnerRegistry
    function setMinBond(uint256 minBond_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setMinBond(minBond_);
    }

    /// @inheritdoc IRunnerRegistry
    function setUnbondingDelay(uint256 delay) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setUnbondingDelay(delay);
    }

    /// @inheritdoc IRunnerRegistry
    function setSlashParams(uint16 slashBps_, uint16 reporterRewardBps_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setSlashParams(slashBps_, reporterRewardBps_);
    }

    /// @inheritdoc IRunnerRegistry
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @inheritdoc IRunnerRegistry
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IRunnerRegistry
    function asset() external view returns (IERC20) {
        return _getRunnerRegistryStorage().asset;
    }

    /// @inheritdoc IRunnerRegistry
    function getRunner(address runner) external view returns (Runner memory) {
        RunnerRecord storage r = _getRunnerRegistryStorage().runners[runner];
        return Runner({
            registered: r.registered,
            feeBps: r.feeBps,
            registeredAt: r.registeredAt,
            unbondingAvailableAt: r.unbondingAvailableAt,
            bond: r.bond,
            unbonding: r.unbonding,
            totalSlashed: r.totalSlashed,
            endpoint: r.endpoint
        });
    }

    /// @inheritdoc IRunnerRegistry
    function runnerTerms(address runner) external view returns (bool active, uint16 feeBps) {
        RunnerRegistryStorage storage $ = _getRunnerRegistryStorage();
        RunnerRecord storage r = $.runners[runner];
        active = r.registered && r.bond >= $.minBond;
        uint16 cap = $.maxFeeBps;
        feeBps = r.feeBps < cap ? r.feeBps : cap;
    }

    /// @inheritdoc IRunnerRegistry
    function isRegistered(address runner) external view returns (bool) {
        return _getRunnerRegistryStorage().runners[runner].registered;
    }

    /// @inheritdoc IRunnerRegistry
    function isActive(address runner) external view returns (bool) {
        RunnerRegistryStorage storage $ = _getRunnerRegistryStorage();
        RunnerRecord storage r = $.runners[runner];
        return r.registered && r.bond >= $.minBond;
    }

    /// @inheritdoc IRunnerRegistry
    function runnerCount() external view returns (uint256) {
        return _getRunnerRegistryStorage().runnerList.length;
    }

    /// @inheritdoc IRunnerRegistry
    function runnerAt(uint256 index) external view returns (address) {
        return _getRunnerRegistryStorage().runnerList[index];
    }

    /// @inheritdoc IRunnerRegistry
    function isEvidenceUsed(address runner, bytes32 evidence) external view returns (bool) {
        return _getRunnerRegistryStorage().evidenceUsed[runner][evidence];
    }

    /// @inheritdoc IRunnerRegistry
    function maxFeeBps() external view returns (uint16) {
        return _getRunnerRegistryStorage().maxFeeBps;
    }

    /// @inheritdoc IRunnerRegistry
    function minBond() external view returns (uint256) {
        return _getRunnerRegistryStorage().minBond;
    }

    /// @inheritdoc IRunnerRegistry
    function unbondingDelay() external view returns (uint256) {
        return _getRunnerRegistryStorage().unbondingDelay;
    }

    /// @inheritdoc IRunnerRegistry
    function slashBps() external view returns (uint16) {
        return _getRunnerRegistryStorage().slashBps;
    }

    /// @inheritdoc IRunnerRegistry
    function reporterRewardBps() external view returns (uint16) {
        return _getRunnerRegistryStorage().reporterRewardBps;
    }

    /// @inheritdoc IRunnerRegistry
    function totalStaked() external view returns (uint256) {
        return _getRunnerRegistryStorage().totalStaked;
    }

    // ------------------------------------------------------------------ internals

    function _registered(address runner) private view returns (RunnerRecord storage r) {
        r = _getRunnerRegistryStorage().runners[runner];
        if (!r.registered) revert RunnerRegistry_NotRegistered(runner);
    }

    function _stake(RunnerRegistryStorage storage $, address runner, uint256 amount) private {
        if (amount == 0) revert RunnerRegistry_ZeroAmount();
        RunnerRecord storage r = $.runners[runner];
        uint256 bond = r.bond + amount;
        uint256 stake_ = bond + r.unbonding;
        if (stake_ > type(uint128).max) revert RunnerRegistry_StakeTooLarge(stake_);
        // casting to 'uint128' is safe because bond + unbonding was checked against type(uint128).max above.
        // forge-lint: disable-next-line(unsafe-typecast)
        r.bond = uint128(bond);
        uint256 total = $.totalStaked + amount;
        $.totalStaked = total;
        emit BondStaked(runner, msg.sender, amount, bond, total);
        $.asset.safeTransferFrom(msg.sender, address(this), amount);
    }

    function _checkEndpoint(string calldata endpoint) private pure {
        uint256 length = bytes(endpoint).length;
        if (length == 0 || length > MAX_ENDPOINT_LENGTH) revert RunnerRegistry_InvalidEndpoint(length);
    }

    function _checkFee(RunnerRegistryStorage storage $, uint16 feeBps) private view {
        uint16 cap = $.maxFeeBps;
        if (feeBps > cap) revert RunnerRegistry_FeeTooHigh(feeBps, cap);
    }

    function _setMaxFeeBps(uint16 maxFeeBps_) private {
        if (maxFeeBps_ > MAX_FEE_BPS_LIMIT) revert RunnerRegistry_MaxFeeTooHigh(maxFeeBps_, MAX_FEE_BPS_LIMIT);
        RunnerRegistryStorage storage $ = _getRunnerRegistryStorage();
        emit MaxFeeSet($.maxFeeBps, maxFeeBps_);
        $.maxFeeBps = maxFeeBps_;
    }

    function _setMinBond(uint256 minBond_) private {
        RunnerRegistryStorage storage $ = _getRunnerRegistryStorage();
        emit MinBondSet($.minBond, minBond_);
        $.minBond = SafeCast.toUint128(minBond_);
    }

    function _setUnbondingDelay(uint256 delay) private {
        if (delay < MIN_UNBONDING_DELAY || delay > MAX_UNBONDING_DELAY) {
            revert RunnerRegistry_UnbondingDelayOutOfRange(delay);
        }
        RunnerRegistryStorage storage $ = _getRunnerRegistryStorage();
        emit UnbondingDelaySet($.unbondingDelay, delay);
        // casting to 'uint64' is safe because delay ≤ MAX_UNBONDING_DELAY.
        // forge-lint: disable-next-line(unsafe-typecast)
        $.unbondingDelay = uint64(delay);
    }

    function _setSlashParams(uint16 slashBps_, uint16 reporterRewardBps_) private {
        if (slashBps_ == 0 || slashBps_ > BPS || reporterRewardBps_ > BPS) {
            revert RunnerRegistry_SlashParamsOutOfRange(slashBps_, reporterRewardBps_);
        }
        RunnerRegistryStorage storage $ = _getRunnerRegistryStorage();
        $.slashBps = slashBps_;
        $.reporterRewardBps = reporterRewardBps_;
        emit SlashParamsSet(slashBps_, reporterRewardBps_);
    }

    function _authorizeUpgrade(address) internal override onlyRole(UPGRADER_ROLE) {}
}
