// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IPaymentChannels} from "./interfaces/IPaymentChannels.sol";
import {IRunnerRegistry} from "./interfaces/IRunnerRegistry.sol";
import {PaymentMessages} from "./libraries/PaymentMessages.sol";
import {ModelTotal, SignedVoucher} from "./types/PaymentTypes.sol";
import {AccessControlUpgradeable} from "@openzeppelin/contracts-upgradeable/access/AccessControlUpgradeable.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {PausableUpgradeable} from "@openzeppelin/contracts-upgradeable/utils/PausableUpgradeable.sol";
import {
    ReentrancyGuardTransientUpgradeable
} from "@openzeppelin/contracts-upgradeable/utils/ReentrancyGuardTransientUpgradeable.sol";
import {EIP712Upgradeable} from "@openzeppelin/contracts-upgradeable/utils/cryptography/EIP712Upgradeable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";

/// @title PaymentChannels
/// @notice Consumer → runner payment channels with one lane per model, paid by EIP-712 vouchers.
/// @dev See {IPaymentChannels}. UUPS proxy; ERC-7201 storage (EIP712Upgradeable keeps its own
///      namespaced storage; the reentrancy guard uses transient storage only).
contract PaymentChannels is
    Initializable,
    AccessControlUpgradeable,
    PausableUpgradeable,
    EIP712Upgradeable,
    UUPSUpgradeable,
    ReentrancyGuardTransientUpgradeable,
    IPaymentChannels
{
    using SafeERC20 for IERC20;

    bytes32 public constant UPGRADER_ROLE = keccak256("UPGRADER_ROLE");
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");
    bytes32 public constant SETTLEMENT_ROLE = keccak256("SETTLEMENT_ROLE");
    bytes32 public constant VOUCHER_TYPEHASH = PaymentMessages.VOUCHER_TYPEHASH;
    uint256 public constant MIN_CHALLENGE_PERIOD = 10 minutes;
    uint256 public constant MAX_CHALLENGE_PERIOD = 30 days;

    /// @custom:storage-location erc7201:openlora.storage.PaymentChannels
    struct PaymentChannelsStorage {
        IERC20 asset;
        IRunnerRegistry runnerRegistry;
        uint64 challengePeriod;
        uint256 channelCount;
        uint256 totalBalance; // Σ over channels not withdrawn of deposited − paid
        mapping(uint256 channelId => Channel) channels;
        mapping(uint256 channelId => mapping(uint256 modelId => Lane)) lanes;
    }

    // keccak256(abi.encode(uint256(keccak256("openlora.storage.PaymentChannels")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant PAYMENT_CHANNELS_STORAGE_LOCATION =
        0xf052d40c8fb2f03a5e062b863eb5933d03cdad159c4dcadb6d779122eb490800;

    function _getPaymentChannelsStorage() private pure returns (PaymentChannelsStorage storage $) {
        assembly {
            $.slot := PAYMENT_CHANNELS_STORAGE_LOCATION
        }
    }

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    /// @notice Initializes the proxy.
    /// @param admin receives `DEFAULT_ADMIN_ROLE`, `UPGRADER_ROLE` and `PAUSER_ROLE`.
    /// @param asset_ the payment asset.
    /// @param runnerRegistry_ the runner registry (channels open only to registered runners).
    /// @param challengePeriod_ in seconds, within [{MIN_CHALLENGE_PERIOD}, {MAX_CHALLENGE_PERIOD}].
    function initialize(address admin, IERC20 asset_, IRunnerRegistry runnerRegistry_, uint256 challengePeriod_)
        external
        initializer
    {
        if (admin == address(0) || address(asset_) == address(0) || address(runnerRegistry_) == address(0)) {
            revert PaymentChannels_ZeroAddress();
        }
        __AccessControl_init();
        __Pausable_init();
        __EIP712_init("OpenLoRA PaymentChannels", "1");
        __ReentrancyGuardTransient_init();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(UPGRADER_ROLE, admin);
        _grantRole(PAUSER_ROLE, admin);
        PaymentChannelsStorage storage $ = _getPaymentChannelsStorage();
        $.asset = asset_;
        $.runnerRegistry = runnerRegistry_;
        _setChallengePeriod(challengePeriod_);
    }

    // ------------------------------------------------------------------ consumer

    /// @inheritdoc IPaymentChannels
    function open(address runner, uint256 amount, address sessionKey)
        external
        whenNotPaused
        nonReentrant
        returns (uint256 channelId)
    {
        channelId = _open(runner, amount, sessionKey);
    }

    /// @inheritdoc IPaymentChannels
    function openWithPermit(
        address runner,
        uint256 amount,
        address sessionKey,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external whenNotPaused nonReentrant returns (uint256 channelId) {
        _permit(amount, deadline, v, r, s);
        channelId = _open(runner, amount, sessionKey);
    }

    /// @inheritdoc IPaymentChannels
    function topUp(uint256 channelId, uint256 amount) external whenNotPaused nonReentrant {
        _topUp(channelId, amount);
    }

    /// @inheritdoc IPaymentChannels
    function topUpWithPermit(uint256 channelId, uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s)
        external
        whenNotPaused
        nonReentrant
    {
        _permit(amount, deadline, v, r, s);
        _topUp(channelId, amount);
    }

    /// @inheritdoc IPaymentChannels
    function setSessionKey(uint256 channelId, address sessionKey) external {
        PaymentChannelsStorage storage $ = _getPaymentChannelsStorage();
        Channel storage c = _consumerChannel($, channelId);
        if (sessionKey == msg.sender) revert PaymentChannels_InvalidSessionKey(sessionKey);
        uint256 validUntil = c.previousKeyValidUntil;
        // Timestamps drive the protocol's periods (minutes to days): miners' seconds of drift do not matter.
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp < validUntil) revert PaymentChannels_SessionKeyChangePending(channelId, validUntil);
        address previous = c.sessionKey;
        if (previous != address(0)) {
            validUntil = block.timestamp + $.challengePeriod;
            c.previousSessionKey = previous;
            // casting to 'uint64' is safe because a timestamp plus at most 30 days fits in 64 bits.
            // forge-lint: disable-next-line(unsafe-typecast)
            c.previousKeyValidUntil = uint64(validUntil);
        } else {
            validUntil = 0;
        }
        c.sessionKey = sessionKey;
        emit SessionKeySet(channelId, sessionKey, previous, validUntil);
    }

    /// @inheritdoc IPaymentChannels
    function requestClose(uint256 channelId) external returns (uint256 closesAt) {
        PaymentChannelsStorage storage $ = _getPaymentChannelsStorage();
        Channel storage c = _consumerChannel($, channelId);
        closesAt = c.closesAt;
        if (closesAt != 0) revert PaymentChannels_CloseAlreadyRequested(channelId, closesAt);
        closesAt = block.timestamp + $.challengePeriod;
        // casting to 'uint64' is safe because a timestamp plus at most 30 days fits in 64 bits.
        // forge-lint: disable-next-line(unsafe-typecast)
        c.closesAt = uint64(closesAt);
        emit CloseRequested(channelId, msg.sender, closesAt);
    }

    /// @inheritdoc IPaymentChannels
    function withdraw(uint256 channelId) external nonReentrant returns (uint256 amount) {
        PaymentChannelsStorage storage $ = _getPaymentChannelsStorage();
        Channel storage c = _consumerChannel($, channelId);
        uint256 closesAt = c.closesAt;
        if (closesAt == 0) revert PaymentChannels_CloseNotRequested(channelId);
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp < closesAt) revert PaymentChannels_ChallengePeriodActive(channelId, closesAt);
        uint256 paid = c.paid;
        // Cannot underflow: settlement never pays a channel more than it holds.
        unchecked {
            amount = c.deposited - paid;
        }
        c.withdrawn = true;
        $.totalBalance -= amount;
        emit ChannelWithdrawn(channelId, msg.sender, amount, paid);
        if (amount != 0) $.asset.safeTransfer(msg.sender, amount);
    }

    // ------------------------------------------------------------------ settlement

    /// @inheritdoc IPaymentChannels
    function payOut(address to, uint256 amount) external onlyRole(SETTLEMENT_ROLE) nonReentrant {
        _getPaymentChannelsStorage().asset.safeTransfer(to, amount);
    }

    /// @inheritdoc IPaymentChannels
    function settleVouchers(address runner, SignedVoucher[] calldata vouchers)
        external
        onlyRole(SETTLEMENT_ROLE)
        whenNotPaused
        nonReentrant
        returns (ModelTotal[] memory totals, uint256 amount)
    {
        if (vouchers.length == 0) revert PaymentChannels_NoVouchers();
        PaymentChannelsStorage storage $ = _getPaymentChannelsStorage();
        bytes32 domainSeparator = _domainSeparatorV4();
        totals = new ModelTotal[](vouchers.length);
        uint256 models;
        ModelTotal memory current;
        for (uint256 i; i < vouchers.length; ++i) {
            SignedVoucher calldata v = vouchers[i];
            if (models == 0 || v.modelId != current.modelId) {
                if (models != 0 && v.modelId < current.modelId) {
                    revert PaymentChannels_VouchersNotGrouped(i, current.modelId, v.modelId);
                }
                current = totals[models];
                current.modelId = v.modelId;
                // Cannot overflow: models ≤ i < vouchers.length.
                unchecked {
                    ++models;
                }
            }
            amount += _redeem($, domainSeparator, runner, v, current);
        }
        // Drop the unused tail: the array's length word is the first word of its memory.
        assembly ("memory-safe") {
            mstore(totals, models)
        }
        $.totalBalance -= amount;
        // Settled funds stay here until Settlement pays them out ({payOut}).
    }

    // ------------------------------------------------------------------ governance

    /// @inheritdoc IPaymentChannels
    function setChallengePeriod(uint256 period) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setChallengePeriod(period);
    }

    /// @inheritdoc IPaymentChannels
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @inheritdoc IPaymentChannels
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IPaymentChannels
    function asset() external view returns (IERC20) {
        return _getPaymentChannelsStorage().asset;
    }

    /// @inheritdoc IPaymentChannels
    function runnerRegistry() external view returns (IRunnerRegistry) {
        return _getPaymentChannelsStorage().runnerRegistry;
    }

    /// @inheritdoc IPaymentChannels
    function getChannel(uint256 channelId) external view returns (Channel memory) {
        return _channel(_getPaymentChannelsStorage(), channelId);
    }

    /// @inheritdoc IPaymentChannels
    function balanceOf(uint256 channelId) external view returns (uint256) {
        Channel storage c = _getPaymentChannelsStorage().channels[channelId];
        return c.withdrawn ? 0 : c.deposited - c.paid;
    }

    /// @inheritdoc IPaymentChannels
    function getLane(uint256 channelId, uint256 modelId) external view returns (Lane memory) {
        return _getPaymentChannelsStorage().lanes[channelId][modelId];
    }

    /// @inheritdoc IPaymentChannels
    function isAuthorizedSigner(uint256 channelId, address signer) external view returns (bool) {
        Channel storage c = _getPaymentChannelsStorage().channels[channelId];
        return signer != address(0) && (signer == c.consumer || _isSessionKey(c, signer));
    }

    /// @inheritdoc IPaymentChannels
    function voucherDigest(
        uint256 channelId,
        uint256 modelId,
        uint256 cumulativeAmount,
        uint64 cumulativeCalls,
        bytes32 transcriptHash
    ) external view returns (bytes32) {
        return _hashTypedDataV4(
            PaymentMessages.hashVoucher(channelId, modelId, cumulativeAmount, cumulativeCalls, transcriptHash)
        );
    }

    /// @inheritdoc IPaymentChannels
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @inheritdoc IPaymentChannels
    function channelCount() external view returns (uint256) {
        return _getPaymentChannelsStorage().channelCount;
    }

    /// @inheritdoc IPaymentChannels
    function challengePeriod() external view returns (uint256) {
        return _getPaymentChannelsStorage().challengePeriod;
    }

    /// @inheritdoc IPaymentChannels
    function totalBalance() external view returns (uint256) {
        return _getPaymentChannelsStorage().totalBalance;
    }

    // ------------------------------------------------------------------ internals

    function _open(address runner, uint256 amount, address sessionKey) private returns (uint256 channelId) {
        if (runner == address(0)) revert PaymentChannels_ZeroAddress();
        if (amount == 0) revert PaymentChannels_ZeroAmount();
        if (sessionKey == msg.sender) revert PaymentChannels_InvalidSessionKey(sessionKey);
        PaymentChannelsStorage storage $ = _getPaymentChannelsStorage();
        if (!$.runnerRegistry.isRegistered(runner)) revert PaymentChannels_RunnerNotRegistered(runner);
        channelId = ++$.channelCount;
        if (amount > type(uint128).max) revert PaymentChannels_DepositTooLarge(channelId, amount);
        Channel storage c = $.channels[channelId];
        c.consumer = msg.sender;
        c.runner = runner;
        if (sessionKey != address(0)) c.sessionKey = sessionKey;
        // casting to 'uint128' is safe because amount was checked against type(uint128).max above.
        // forge-lint: disable-next-line(unsafe-typecast)
        c.deposited = uint128(amount);
        $.totalBalance += amount;
        emit ChannelOpened(channelId, msg.sender, runner, sessionKey, amount);
        $.asset.safeTransferFrom(msg.sender, address(this), amount);
    }

    function _topUp(uint256 channelId, uint256 amount) private {
        if (amount == 0) revert PaymentChannels_ZeroAmount();
        PaymentChannelsStorage storage $ = _getPaymentChannelsStorage();
        Channel storage c = _consumerChannel($, channelId);
        uint256 closesAt = c.closesAt;
        if (closesAt != 0) {
            // forge-lint: disable-next-line(block-timestamp)
            if (block.timestamp >= closesAt) revert PaymentChannels_ChallengePeriodEnded(channelId, closesAt);
            c.closesAt = 0;
            emit CloseCancelled(channelId, msg.sender);
        }
        uint256 deposited = c.deposited + amount;
        if (deposited > type(uint128).max) revert PaymentChannels_DepositTooLarge(channelId, deposited);
        // casting to 'uint128' is safe because deposited was checked against type(uint128).max above.
        // forge-lint: disable-next-line(unsafe-typecast)
        c.deposited = uint128(deposited);
        $.totalBalance += amount;
        emit ChannelToppedUp(channelId, msg.sender, amount, deposited);
        $.asset.safeTransferFrom(msg.sender, address(this), amount);
    }

    function _permit(uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s) private {
        // A permit that was front-run (its nonce used) must not block a deposit the allowance covers;
        // if the allowance does not cover it, the transfer that follows reverts.
        try IERC20Permit(address(_getPaymentChannelsStorage().asset))
            .permit(msg.sender, address(this), amount, deadline, v, r, s) {}
            catch {}
    }

    /// @dev Pays one lane up to `v`, adds what it pays to `total` (the model's), returns the amount.
    function _redeem(
        PaymentChannelsStorage storage $,
        bytes32 domainSeparator,
        address runner,
        SignedVoucher calldata v,
        ModelTotal memory total
    ) private returns (uint256 delta) {
        uint256 channelId = v.channelId;
        Channel storage c = $.channels[channelId];
        address consumer = _settleableChannel(c, channelId, runner);
        uint256 calls;
        (delta, calls) = _payLane($.lanes[channelId][v.modelId], c, v);
        // Cannot overflow: deltas are covered by channel balances (together at most the token
        // supply) and each voucher adds fewer than 2^64 calls.
        unchecked {
            total.amount += delta;
            total.calls += calls;
        }
        bytes32 digest = MessageHashUtils.toTypedDataHash(
            domainSeparator,
            PaymentMessages.hashVoucher(channelId, v.modelId, v.cumulativeAmount, v.cumulativeCalls, v.transcriptHash)
        );
        _checkSigner(c, consumer, digest, v.signature, channelId, v.modelId);
    }

    /// @dev The channel's consumer, if `runner` may settle the channel now.
    function _settleableChannel(Channel storage c, uint256 channelId, address runner)
        private
        view
        returns (address consumer)
    {
        consumer = c.consumer;
        if (consumer == address(0)) revert PaymentChannels_UnknownChannel(channelId);
        if (c.withdrawn) revert PaymentChannels_ChannelClosed(channelId);
        uint256 closesAt = c.closesAt;
        // forge-lint: disable-next-line(block-timestamp)
        if (closesAt != 0 && block.timestamp >= closesAt) {
            revert PaymentChannels_ChallengePeriodEnded(channelId, closesAt);
        }
        address channelRunner = c.runner;
        if (channelRunner != runner) revert PaymentChannels_WrongRunner(channelId, channelRunner, runner);
    }

    /// @dev Checks that `v` is strictly newer than the lane's paid state and covered by the channel,
    ///      and records it as paid. (The caller checks the signature and reverts all of it if wrong.)
    function _payLane(Lane storage lane, Channel storage c, SignedVoucher calldata v)
        private
        returns (uint256 delta, uint256 calls)
    {
        uint256 paidAmount = lane.paidAmount;
        uint256 paidCalls = lane.paidCalls;
        if (v.cumulativeAmount <= paidAmount || v.cumulativeCalls <= paidCalls) {
            revert PaymentChannels_VoucherStale(
                v.channelId, v.modelId, paidAmount, paidCalls, v.cumulativeAmount, v.cumulativeCalls
            );
        }
        uint256 channelPaid = c.paid;
        uint256 available;
        // Cannot underflow: both were checked just above, and paid ≤ deposited always holds.
        unchecked {
            delta = v.cumulativeAmount - paidAmount;
            calls = v.cumulativeCalls - paidCalls;
            available = c.deposited - channelPaid;
        }
        if (delta > available) revert PaymentChannels_InsufficientBalance(v.channelId, available, delta);
        // Fits in 128 bits: the lane's paid amount is part of the channel's paid amount, which stays
        // ≤ deposited < 2^128 (delta ≤ available above).
        unchecked {
            channelPaid += delta;
        }
        lane.paidAmount = uint128(v.cumulativeAmount);
        lane.paidCalls = v.cumulativeCalls;
        // casting to 'uint128' is safe because channelPaid ≤ deposited < 2^128 (see above).
        // forge-lint: disable-next-line(unsafe-typecast)
        c.paid = uint128(channelPaid);
        _emitRedeemed(c, v, delta, calls, channelPaid);
    }

    function _emitRedeemed(
        Channel storage c,
        SignedVoucher calldata v,
        uint256 delta,
        uint256 calls,
        uint256 channelPaid
    ) private {
        emit VoucherRedeemed(
            v.channelId,
            v.modelId,
            c.runner,
            delta,
            calls,
            v.cumulativeAmount,
            v.cumulativeCalls,
            v.transcriptHash,
            channelPaid
        );
    }

    function _checkSigner(
        Channel storage c,
        address consumer,
        bytes32 digest,
        bytes calldata signature,
        uint256 channelId,
        uint256 modelId
    ) private view {
        address signer;
        if (signature.length == 65) {
            bytes32 r;
            bytes32 s;
            uint8 v;
            assembly ("memory-safe") {
                r := calldataload(signature.offset)
                s := calldataload(add(signature.offset, 0x20))
                v := byte(0, calldataload(add(signature.offset, 0x40)))
            }
            ECDSA.RecoverError err;
            (signer, err,) = ECDSA.tryRecover(digest, v, r, s);
            if (err != ECDSA.RecoverError.NoError) signer = address(0);
        }
        if (signer == consumer || (signer != address(0) && _isSessionKey(c, signer))) return;
        // A contract consumer (multisig, smart account) signs through ERC-1271.
        if (consumer.code.length != 0 && SignatureChecker.isValidERC1271SignatureNow(consumer, digest, signature)) {
            return;
        }
        revert PaymentChannels_InvalidSignature(channelId, modelId, signer);
    }

    function _isSessionKey(Channel storage c, address signer) private view returns (bool) {
        // forge-lint: disable-next-line(block-timestamp)
        return signer == c.sessionKey || (signer == c.previousSessionKey && block.timestamp < c.previousKeyValidUntil);
    }

    function _channel(PaymentChannelsStorage storage $, uint256 channelId) private view returns (Channel storage c) {
        c = $.channels[channelId];
        if (c.consumer == address(0)) revert PaymentChannels_UnknownChannel(channelId);
    }

    /// @dev A channel that exists, is not withdrawn, and whose consumer is the caller.
    function _consumerChannel(PaymentChannelsStorage storage $, uint256 channelId)
        private
        view
        returns (Channel storage c)
    {
        c = _channel($, channelId);
        if (c.consumer != msg.sender) revert PaymentChannels_NotConsumer(channelId, msg.sender);
        if (c.withdrawn) revert PaymentChannels_ChannelClosed(channelId);
    }

    function _setChallengePeriod(uint256 period) private {
        if (period < MIN_CHALLENGE_PERIOD || period > MAX_CHALLENGE_PERIOD) {
            revert PaymentChannels_ChallengePeriodOutOfRange(period);
        }
        PaymentChannelsStorage storage $ = _getPaymentChannelsStorage();
        emit ChallengePeriodSet($.challengePeriod, period);
        // casting to 'uint64' is safe because period ≤ MAX_CHALLENGE_PERIOD.
        // forge-lint: disable-next-line(unsafe-typecast)
        $.challengePeriod = uint64(period);
    }

    /// @dev The EIP-712 name as a constant (the same string {initialize} stores), so that the domain
    ///      separator costs no storage reads: every settlement computes it.
    function _EIP712Name() internal pure override returns (string memory) {
        return "OpenLoRA PaymentChannels";
    }

    /// @dev The EIP-712 version as a constant (see {_EIP712Name}).
    function _EIP712Version() internal pure override returns (string memory) {
        return "1";
    }

    function _authorizeUpgrade(address) internal override onlyRole(UPGRADER_ROLE) {}
}
