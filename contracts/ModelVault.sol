// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {ICoTrainingShares} from "./interfaces/ICoTrainingShares.sol";
import {IModelRegistry} from "./interfaces/IModelRegistry.sol";
import {IModelVault} from "./interfaces/IModelVault.sol";
import {IModelVaultFactory} from "./interfaces/IModelVaultFactory.sol";
import {IRevenueFlush, ISettlementSource} from "./interfaces/IRevenueFlush.sol";
import {ProfitUnlock} from "./libraries/ProfitUnlock.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {ERC4626Upgradeable} from "@openzeppelin/contracts-upgradeable/token/ERC20/extensions/ERC4626Upgradeable.sol";
import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// @title ModelVault
/// @notice ERC-4626 vault backing one model; revenue from Settlement unlocks linearly.
/// @dev See {IModelVault}. Deployed as a beacon proxy by {ModelVaultFactory}; ERC-7201 storage.
///      {totalAssets} is `storedAssets + unlocked(lockedRevenue)`; every deposit, withdrawal and
///      revenue arrival first moves what has unlocked into `storedAssets` (a checkpoint, which does
///      not change {totalAssets}), so previews made in the same block are exact. An empty vault
///      holds no revenue: it refuses new revenue while it has no shares (Settlement routes that
///      share to the model's holders), and revenue still locked when the last shares leave goes to
///      the holders at once.
contract ModelVault is Initializable, ERC4626Upgradeable, IModelVault {
    using SafeERC20 for IERC20;

    /// @custom:storage-location erc7201:openlora.storage.ModelVault
    struct ModelVaultStorage {
        address factory;
        uint64 lockStart; // when `locked` was last checkpointed
        uint64 lockEnd; // when `locked` will be fully unlocked
        uint256 modelId;
        uint256 storedAssets; // deposits - withdrawals + revenue unlocked up to lockStart
        uint256 locked; // revenue not yet unlocked at lockStart
        uint256 totalRevenue;
        uint256 releasedRevenue; // locked revenue sent to the model's holders when the vault emptied
    }

    // keccak256(abi.encode(uint256(keccak256("openlora.storage.ModelVault")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant MODEL_VAULT_STORAGE_LOCATION =
        0xec8439ae1b39e776b332fcf3f269f9a8f6d70fd4d3e915e6531c77acb16f2b00;

    /// @dev Shares have this many more decimals than the asset: 10^6 virtual shares make the
    ///      first-depositor inflation attack cost about a million times what it could steal.
    uint8 private constant DECIMALS_OFFSET = 6;

    /// @dev The factory's role ids (the same keccak256 of the role name in every OpenLoRA contract).
    bytes32 private constant DEFAULT_ADMIN_ROLE = 0x00;

    function _getModelVaultStorage() private pure returns (ModelVaultStorage storage $) {
        assembly {
            $.slot := MODEL_VAULT_STORAGE_LOCATION
        }
    }

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    /// @inheritdoc IModelVault
    function initialize(
        address asset_,
        address factory_,
        uint256 modelId_,
        string calldata name_,
        string calldata symbol_
    ) external initializer {
        if (asset_ == address(0) || factory_ == address(0)) revert ModelVault_ZeroAddress();
        __ERC20_init(name_, symbol_);
        __ERC4626_init(IERC20(asset_));
        ModelVaultStorage storage $ = _getModelVaultStorage();
        $.factory = factory_;
        $.modelId = modelId_;
        $.lockStart = uint64(block.timestamp);
        $.lockEnd = uint64(block.timestamp);
    }

    // ------------------------------------------------------------------ revenue

    /// @inheritdoc IModelVault
    function receiveRevenue(uint256 amount) external {
        ModelVaultStorage storage $ = _getModelVaultStorage();
        // One call to the factory: the caller's role and the unlock period.
        (bool isSettlement, uint256 period) = IModelVaultFactory($.factory).revenueTerms(msg.sender);
        if (!isSettlement) revert ModelVault_CallerNotSettlement(msg.sender);
        if (amount == 0) return;
        if (totalSupply() == 0) revert ModelVault_NoShares();
        _checkpoint($);
        uint256 remaining = $.locked;
        uint256 required = $.storedAssets + remaining + amount;
        uint256 balance = IERC20(asset()).balanceOf(address(this));
        if (balance < required) revert ModelVault_RevenueNotReceived(balance, required);

        uint256 end = $.lockEnd;
        // After the checkpoint, something remains locked only if lockEnd is still ahead. A validator's
        // few seconds of timestamp leeway only shift the unlocking line by as much.
        // forge-lint: disable-next-line(block-timestamp)
        uint256 remainingTime = end > block.timestamp ? end - block.timestamp : 0;
        uint256 duration = ProfitUnlock.mergedDuration(remaining, remainingTime, amount, period);
        uint256 locked_ = remaining + amount;
        uint256 newEnd = block.timestamp + duration;
        $.locked = locked_;
        // casting to 'uint64' is safe because newEnd <= now + MAX_UNLOCK_PERIOD (365 days).
        // forge-lint: disable-next-line(unsafe-typecast)
        $.lockEnd = uint64(newEnd);
        uint256 total = $.totalRevenue + amount;
        $.totalRevenue = total;
        emit RevenueReceived($.modelId, amount, locked_, newEnd, total);
    }

    /// @inheritdoc IModelVault
    function sweepSurplus(address to) external returns (uint256 amount) {
        ModelVaultStorage storage $ = _getModelVaultStorage();
        IModelVaultFactory factory_ = IModelVaultFactory($.factory);
        if (!factory_.hasRole(DEFAULT_ADMIN_ROLE, msg.sender)) revert ModelVault_CallerNotAdmin(msg.sender);
        if (to == address(0)) revert ModelVault_ZeroAddress();
        IERC20 token = IERC20(asset());
        uint256 balance = token.balanceOf(address(this));
        uint256 owed = $.storedAssets + $.locked;
        amount = balance > owed ? balance - owed : 0;
        if (amount != 0) token.safeTransfer(to, amount);
        emit SurplusSwept(to, amount);
    }

    // ------------------------------------------------------------------ ERC-4626

    /// @inheritdoc ERC4626Upgradeable
    /// @dev Counts no unlocking while the vault has no shares: an empty vault holds no locked
    ///      revenue (see {_releaseIfEmpty}), and this keeps the previews of a first deposit exact.
    function totalAssets() public view override(ERC4626Upgradeable, IERC4626) returns (uint256) {
        ModelVaultStorage storage $ = _getModelVaultStorage();
        return $.storedAssets + _unlockedSinceCheckpoint($);
    }

    /// @inheritdoc ERC4626Upgradeable
    /// @dev 0 while the factory is paused, so that {deposit} reverts with ERC4626ExceededMaxDeposit.
    function maxDeposit(address) public view override(ERC4626Upgradeable, IERC4626) returns (uint256) {
        return IModelVaultFactory(_getModelVaultStorage().factory).paused() ? 0 : type(uint256).max;
    }

    /// @inheritdoc ERC4626Upgradeable
    /// @dev 0 while the factory is paused.
    function maxMint(address) public view override(ERC4626Upgradeable, IERC4626) returns (uint256) {
        return IModelVaultFactory(_getModelVaultStorage().factory).paused() ? 0 : type(uint256).max;
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IModelVault
    function modelId() external view returns (uint256) {
        return _getModelVaultStorage().modelId;
    }

    /// @inheritdoc IModelVault
    function factory() external view returns (address) {
        return _getModelVaultStorage().factory;
    }

    /// @inheritdoc IModelVault
    function lockedRevenue() public view returns (uint256) {
        ModelVaultStorage storage $ = _getModelVaultStorage();
        return $.locked - _unlockedSinceCheckpoint($);
    }

    /// @inheritdoc IModelVault
    function unlockEnd() external view returns (uint256) {
        return _getModelVaultStorage().lockEnd;
    }

    /// @inheritdoc IModelVault
    function totalRevenue() external view returns (uint256) {
        return _getModelVaultStorage().totalRevenue;
    }

    /// @inheritdoc IModelVault
    function releasedRevenue() external view returns (uint256) {
        return _getModelVaultStorage().releasedRevenue;
    }

    /// @inheritdoc IModelVault
    function accountedAssets() external view returns (uint256) {
        ModelVaultStorage storage $ = _getModelVaultStorage();
        return $.storedAssets + $.locked;
    }

    // ------------------------------------------------------------------ internal

    function _decimalsOffset() internal pure override returns (uint8) {
        return DECIMALS_OFFSET;
    }

    /// @dev Revenue unlocked since the last checkpoint; none while there are no shares.
    function _unlockedSinceCheckpoint(ModelVaultStorage storage $) private view returns (uint256) {
        if (totalSupply() == 0) return 0;
        return ProfitUnlock.unlocked($.locked, $.lockStart, $.lockEnd, block.timestamp);
    }

    /// @dev Moves what has unlocked since `lockStart` into `storedAssets` ({totalAssets} is unchanged)
    ///      and restarts the line from now. Called only while the vault has shares (an empty vault
    ///      holds nothing locked). Whenever `locked > 0`, `lockEnd > lockStart`.
    function _checkpoint(ModelVaultStorage storage $) private {
        uint256 locked_ = $.locked;
        if (locked_ != 0) {
            uint256 released = ProfitUnlock.unlocked(locked_, $.lockStart, $.lockEnd, block.timestamp);
            $.storedAssets += released;
            // Cannot underflow: `unlocked` never returns more than `locked_`.
            unchecked {
                $.locked = locked_ - released;
            }
        }
        $.lockStart = uint64(block.timestamp);
    }

    /// @dev With no shares left, revenue still locked belongs to no backer: it goes to the model's
    ///      holders now, so that whoever deposits next cannot collect it as it unlocks.
    function _releaseIfEmpty(ModelVaultStorage storage $) private {
        uint256 amount = $.locked;
        if (amount == 0 || totalSupply() != 0) return;
        $.locked = 0;
        $.lockStart = uint64(block.timestamp);
        $.lockEnd = uint64(block.timestamp);
        uint256 released = $.releasedRevenue + amount;
        $.releasedRevenue = released;
        uint256 modelId_ = $.modelId;
        ICoTrainingShares shares_ = IModelRegistry(IModelVaultFactory($.factory).registry()).shares();
        emit LockedRevenueReleased(modelId_, amount, released);
        IERC20(asset()).safeTransfer(address(shares_), amount);
        shares_.creditVaultRevenue(modelId_, amount);
    }

    function _deposit(address caller, address receiver, uint256 assets, uint256 shares) internal override {
        ModelVaultStorage storage $ = _getModelVaultStorage();
        // Revenue settled while the vault was empty goes to the holders: flush it before the first
        // share exists, so that the split at flush sees the vault empty.
        if (totalSupply() == 0) {
            address settlement = ISettlementSource($.factory).settlement();
            if (settlement != address(0)) IRevenueFlush(settlement).flush($.modelId);
        }
        // Only a vault emptied before this rule (an older implementation) can still hold revenue here.
        _releaseIfEmpty($);
        _checkpoint($);
        $.storedAssets += assets;
        super._deposit(caller, receiver, assets, shares);
    }

    function _withdraw(address caller, address receiver, address owner, uint256 assets, uint256 shares)
        internal
        override
    {
        ModelVaultStorage storage $ = _getModelVaultStorage();
        _checkpoint($);
        // Cannot underflow: the max* and preview functions round down what shares are worth, so the
        // assets of all shares never exceed totalAssets, which the checkpoint just moved into storedAssets.
        $.storedAssets -= assets;
        super._withdraw(caller, receiver, owner, assets, shares);
        _releaseIfEmpty($);
    }
}
