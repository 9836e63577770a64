// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {ModelTotal, SignedVoucher} from "../types/PaymentTypes.sol";
import {IRunnerRegistry} from "./IRunnerRegistry.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title IPaymentChannels
/// @notice Unidirectional payment channels from a consumer to a runner, escrowing the payment asset,
///         with one lane per model inside each channel. The consumer pays per call by signing
///         vouchers off-chain (EIP-712, docs/protocol/typed-data.md); the runner settles the latest
///         voucher of any lanes it likes whenever it likes, through Settlement, without closing.
///         Closing: the consumer requests it, a challenge period starts during which the runner can
///         still settle, and afterwards the consumer withdraws what was not paid. A top-up cancels a
///         pending close.
/// @dev Channel ids are sequential from 1 and never reused. A voucher pays the increase of its
///      cumulative amount over the lane's last paid voucher and must be strictly newer in both amount
///      and calls. Vouchers may be signed by the consumer (ECDSA, or ERC-1271 when the consumer is a
///      contract) or by a session key the consumer authorised for the channel; a replaced session
///      key stays valid for one {challengePeriod} so that vouchers the runner already accepted can
///      still be settled.
///      Roles: `DEFAULT_ADMIN_ROLE` (roles, {setChallengePeriod}), `UPGRADER_ROLE` (UUPS),
///      `PAUSER_ROLE` (stops new channels, top-ups and settlement; never close requests or
///      withdrawals), `SETTLEMENT_ROLE` (the Settlement contract: {settleVouchers}).
interface IPaymentChannels {
    /// @notice A channel.
    struct Channel {
        address consumer; // who funds the channel and signs its vouchers
        uint64 closesAt; // end of the challenge period; 0 while no close is pending
        bool withdrawn; // the consumer withdrew the rest: the channel is closed for good
        address runner; // who is paid
        address sessionKey; // may sign vouchers for the consumer; zero if none
        address previousSessionKey; // the replaced session key, still valid until `previousKeyValidUntil`
        uint64 previousKeyValidUntil;
        uint128 deposited; // cumulative deposits
        uint128 paid; // cumulative amount paid to the runner through settlement
    }

    /// @notice What has been paid in one lane: the cumulative amount and calls of its last settled voucher.
    struct Lane {
        uint128 paidAmount;
        uint64 paidCalls;
    }

    // ------------------------------------------------------------------ events

    /// @notice A channel was opened with a first deposit of `amount`.
    event ChannelOpened(
        uint256 indexed channelId, address indexed consumer, address indexed runner, address sessionKey, uint256 amount
    );

    /// @notice A channel was topped up; `deposited` is its cumulative deposit after it.
    event ChannelToppedUp(uint256 indexed channelId, address indexed consumer, uint256 amount, uint256 deposited);

    /// @notice The consumer set a channel's session key (zero: none); the previous key stays valid
    ///         until `previousKeyValidUntil`.
    event SessionKeySet(
        uint256 indexed channelId, address indexed sessionKey, address previousKey, uint256 previousKeyValidUntil
    );

    /// @notice The consumer requested to close a channel; the runner can settle until `closesAt`.
    event CloseRequested(uint256 indexed channelId, address indexed consumer, uint256 closesAt);

    /// @notice A top-up cancelled a pending close.
    event CloseCancelled(uint256 indexed channelId, address indexed consumer);

    /// @notice The consumer withdrew the rest of a channel after its challenge period: the channel is
    ///         closed. `paid` is what the runner was paid in total, `amount + paid` the channel's deposits.
    event ChannelWithdrawn(uint256 indexed channelId, address indexed consumer, uint256 amount, uint256 paid);

    /// @notice A lane was paid up to a voucher. `amount` and `calls` are what this voucher added; the
    ///         cumulative values are the lane's new paid state; `channelPaid` the channel's cumulative paid.
    event VoucherRedeemed(
        uint256 indexed channelId,
        uint256 indexed modelId,
        address indexed runner,
        uint256 amount,
        uint256 calls,
        uint256 cumulativeAmount,
        uint64 cumulativeCalls,
        bytes32 transcriptHash,
        uint256 channelPaid
    );

    /// @notice The challenge period changed; it applies to close requests made afterwards.
    event ChallengePeriodSet(uint256 previousPeriod, uint256 period);

    // ------------------------------------------------------------------ errors

    /// @notice A zero address was passed.
    error PaymentChannels_ZeroAddress();
    /// @notice A zero amount was passed.
    error PaymentChannels_ZeroAmount();
    /// @notice The session key was changed recently and the replaced key is still valid until
    ///         `previousKeyValidUntil`; it can be changed again from then on.
    error PaymentChannels_SessionKeyChangePending(uint256 channelId, uint256 previousKeyValidUntil);
    /// @notice The runner is not registered in the runner registry.
    error PaymentChannels_RunnerNotRegistered(address runner);
    /// @notice The session key is the consumer itself.
    error PaymentChannels_InvalidSessionKey(address sessionKey);
    /// @notice No channel has this id.
    error PaymentChannels_UnknownChannel(uint256 channelId);
    /// @notice The caller is not the channel's consumer.
    error PaymentChannels_NotConsumer(uint256 channelId, address caller);
    /// @notice The channel was withdrawn and is closed for good.
    error PaymentChannels_ChannelClosed(uint256 channelId);
    /// @notice A close is already pending.
    error PaymentChannels_CloseAlreadyRequested(uint256 channelId, uint256 closesAt);
    /// @notice No close was requested.
    error PaymentChannels_CloseNotRequested(uint256 channelId);
    /// @notice The challenge period has not ended yet.
    error PaymentChannels_ChallengePeriodActive(uint256 channelId, uint256 closesAt);
    /// @notice The challenge period has ended: the channel can no longer be settled or topped up.
    error PaymentChannels_ChallengePeriodEnded(uint256 channelId, uint256 closesAt);
    /// @notice The channel's cumulative deposits would exceed 2^128 - 1.
    error PaymentChannels_DepositTooLarge(uint256 channelId, uint256 deposited);
    /// @notice A challenge period outside [{MIN_CHALLENGE_PERIOD}, {MAX_CHALLENGE_PERIOD}].
    error PaymentChannels_ChallengePeriodOutOfRange(uint256 period);
    /// @notice A voucher for a channel that pays another runner.
    error PaymentChannels_WrongRunner(uint256 channelId, address runner, address caller);
    /// @notice A voucher not strictly newer (in amount and calls) than the lane's last paid one.
    error PaymentChannels_VoucherStale(
        uint256 channelId, uint256 modelId, uint256 paidAmount, uint256 paidCalls, uint256 amount, uint256 calls
    );
    /// @notice A voucher whose increase exceeds what the channel still holds.
    error PaymentChannels_InsufficientBalance(uint256 channelId, uint256 available, uint256 required);
    /// @notice A voucher not signed by the consumer or an authorised session key for this lane,
    ///         chain and contract. `signer` is the recovered address (zero if none).
    error PaymentChannels_InvalidSignature(uint256 channelId, uint256 modelId, address signer);
    /// @notice Vouchers not grouped by model in non-decreasing model id order (at `index`).
    error PaymentChannels_VouchersNotGrouped(uint256 index, uint256 previousModelId, uint256 modelId);
    /// @notice {settleVouchers} without vouchers.
    error PaymentChannels_NoVouchers();

    // ------------------------------------------------------------------ roles and constants

    /// @notice Role that authorises UUPS upgrades.
    function UPGRADER_ROLE() external view returns (bytes32);
    /// @notice Role that pauses new channels, top-ups and settlement.
    function PAUSER_ROLE() external view returns (bytes32);
    /// @notice Role of the Settlement contract: the only one that may {settleVouchers}.
    function SETTLEMENT_ROLE() external view returns (bytes32);
    /// @notice EIP-712 type hash of Voucher.
    function VOUCHER_TYPEHASH() external view returns (bytes32);
    /// @notice Shortest challenge period governance may set (10 minutes).
    function MIN_CHALLENGE_PERIOD() external view returns (uint256);
    /// @notice Longest challenge period governance may set (30 days).
    function MAX_CHALLENGE_PERIOD() external view returns (uint256);

    // ------------------------------------------------------------------ consumer

    /// @notice Opens a channel from the caller to `runner` with a first deposit of `amount`, pulled
    ///         from the caller (approve first). Reverts while paused.
    /// @param runner a registered runner.
    /// @param amount the first deposit (> 0).
    /// @param sessionKey a key that may sign vouchers for the caller in this channel, or zero.
    /// @return channelId the new channel's id (never reused).
    function open(address runner, uint256 amount, address sessionKey) external returns (uint256 channelId);

    /// @notice {open} funded with an EIP-2612 permit of the caller for this contract. A permit that
    ///         fails (e.g. was front-run) is ignored if the allowance already covers `amount`.
    function openWithPermit(
        address runner,
        uint256 amount,
        address sessionKey,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external returns (uint256 channelId);

    /// @notice Adds `amount` to a channel, pulled from the caller; cancels a pending close. Only the
    ///         consumer; not after the challenge period ended. Reverts while paused.
    function topUp(uint256 channelId, uint256 amount) external;

    /// @notice {topUp} funded with an EIP-2612 permit (see {openWithPermit}).
    function topUpWithPermit(uint256 channelId, uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s)
        external;

    /// @notice Sets the channel's session key (zero removes it). The replaced key stays valid for one
    ///         {challengePeriod} (so vouchers the runner already accepted can still be settled), during
    ///         which the key cannot be changed again. Only the consumer of a channel not yet withdrawn.
    function setSessionKey(uint256 channelId, address sessionKey) external;

    /// @notice Starts the challenge period: the runner can settle until `block.timestamp +
    ///         {challengePeriod}`, then the consumer can {withdraw}. Only the consumer. Works while paused.
    /// @return closesAt when the challenge period ends.
    function requestClose(uint256 channelId) external returns (uint256 closesAt);

    /// @notice Pays the consumer everything the channel holds (deposits − paid) once the challenge
    ///         period has ended, and closes the channel for good. Only the consumer. Works while paused.
    /// @return amount what was paid to the consumer.
    function withdraw(uint256 channelId) external returns (uint256 amount);

    // ------------------------------------------------------------------ settlement

    /// @notice Pays `amount` of the settled funds this contract keeps for Settlement to `to`.
    ///         Only Settlement (`SETTLEMENT_ROLE`).
    function payOut(address to, uint256 amount) external;

    /// @notice Pays the lanes of `vouchers` up to each voucher and transfers the total to the caller.
    ///         Checks for every voucher: the channel exists, pays `runner`, is not withdrawn and its
    ///         challenge period (if any) has not ended; the signature is the consumer's or an
    ///         authorised session key's for exactly this lane, chain and contract; the voucher is
    ///         strictly newer than the lane's paid state; its increase is covered by the channel.
    ///         Only `SETTLEMENT_ROLE`. Reverts while paused.
    /// @param runner the runner being paid (the account that called Settlement).
    /// @param vouchers grouped by model, model ids non-decreasing.
    /// @return totals per model, strictly ascending by model id: the calls and amount paid.
    /// @return amount the total paid (transferred to the caller).
    function settleVouchers(address runner, SignedVoucher[] calldata vouchers)
        external
        returns (ModelTotal[] memory totals, uint256 amount);

    // ------------------------------------------------------------------ governance

    /// @notice Sets the challenge period for later close requests. Only `DEFAULT_ADMIN_ROLE`.
    function setChallengePeriod(uint256 period) external;

    /// @notice Stops new channels, top-ups and settlement. Only `PAUSER_ROLE`.
    function pause() external;

    /// @notice Resumes them. Only `PAUSER_ROLE`.
    function unpause() external;

    // ------------------------------------------------------------------ views

    /// @notice The payment asset.
    function asset() external view returns (IERC20);

    /// @notice The runner registry channels are opened against.
    function runnerRegistry() external view returns (IRunnerRegistry);

    /// @notice A channel. Reverts for an unknown id.
    function getChannel(uint256 channelId) external view returns (Channel memory);

    /// @notice What a channel holds now: deposits − paid, or 0 once withdrawn.
    function balanceOf(uint256 channelId) external view returns (uint256);

    /// @notice The paid state of the lane `(channelId, modelId)`.
    function getLane(uint256 channelId, uint256 modelId) external view returns (Lane memory);

    /// @notice Whether `signer` may sign vouchers of `channelId` now (consumer, session key, or the
    ///         previous session key within its grace period).
    function isAuthorizedSigner(uint256 channelId, address signer) external view returns (bool);

    /// @notice The EIP-712 digest a consumer signs for a voucher on this chain and contract.
    function voucherDigest(
        uint256 channelId,
        uint256 modelId,
        uint256 cumulativeAmount,
        uint64 cumulativeCalls,
        bytes32 transcriptHash
    ) external view returns (bytes32);

    /// @notice The EIP-712 domain separator.
    function DOMAIN_SEPARATOR() external view returns (bytes32);

    /// @notice Number of channels ever opened; ids run from 1 to this.
    function channelCount() external view returns (uint256);

    /// @notice The challenge period in seconds.
    function challengePeriod() external view returns (uint256);

    /// @notice What all channels hold together (deposits − paid − withdrawn): what this contract owes.
    function totalBalance() external view returns (uint256);
}
