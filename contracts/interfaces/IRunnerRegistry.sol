// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title IRunnerRegistry
/// @notice The runners (node operators) of OpenLoRA: each registers the HTTP endpoint where it serves
///         models and the fee it takes from what it settles (bps, capped by governance), and stakes a
///         bond in the payment asset. A runner is *active* — may settle and is listed to consumers
///         as one — while its bond is at least {minBond}. Withdrawing bond takes two steps:
///         {requestUnbond} moves it out of the active bond at once, {withdrawUnbonded} pays it after
///         {unbondingDelay}; until then it can still be slashed. A runner proven to have signed two
///         different outputs for one request (equivocation, checked by Settlement) is slashed:
///         {slashBps} of its whole stake, part to the reporter, the rest to the treasury.
/// @dev Roles (OpenZeppelin AccessControl): `DEFAULT_ADMIN_ROLE` (roles, bond and slashing
///      parameters), `UPGRADER_ROLE` (UUPS), `PAUSER_ROLE` (stops registrations and new stake, never
///      unbonding or withdrawals), `FEE_SETTER_ROLE` ({setMaxFeeBps}), `SLASHER_ROLE` (the Settlement
///      contract: {slash}).
interface IRunnerRegistry {
    /// @notice A registered runner.
    struct Runner {
        bool registered;
        uint16 feeBps; // the fee the runner asked for; settlements apply min(feeBps, maxFeeBps)
        uint64 registeredAt; // block timestamp of registration
        uint64 unbondingAvailableAt; // when `unbonding` can be withdrawn (0 when nothing is unbonding)
        uint128 bond; // active bond: counts toward {minBond}, slashable
        uint128 unbonding; // requested out of the bond, withdrawable at `unbondingAvailableAt`, slashable until then
        uint256 totalSlashed; // cumulative amount slashed from this runner
        string endpoint; // base URL of the runner's HTTP API
    }

    // ------------------------------------------------------------------ events

    /// @notice A runner registered.
    event RunnerRegistered(address indexed runner, string endpoint, uint16 feeBps);

    /// @notice A runner changed its endpoint.
    event EndpointSet(address indexed runner, string endpoint);

    /// @notice A runner changed its fee.
    event RunnerFeeSet(address indexed runner, uint16 feeBps);

    /// @notice Bond was staked. `bond` is the runner's active bond after it, `totalStaked` the bond
    ///         and unbonding held for all runners.
    event BondStaked(address indexed runner, address indexed payer, uint256 amount, uint256 bond, uint256 totalStaked);

    /// @notice Bond was moved to unbonding. `unbonding` is the runner's total unbonding amount,
    ///         withdrawable from `availableAt` (a new request restarts the delay for all of it).
    event UnbondRequested(address indexed runner, uint256 amount, uint256 bond, uint256 unbonding, uint256 availableAt);

    /// @notice Unbonded stake was paid out to the runner. `totalStaked` is what all runners have staked after it.
    event UnbondWithdrawn(address indexed runner, uint256 amount, uint256 totalStaked);

    /// @notice A runner was slashed for `evidence` (the request hash it equivocated on). `bond` and
    ///         `unbonding` are what is left; `totalSlashed` the runner's cumulative slashed amount.
    event RunnerSlashed(
        address indexed runner,
        bytes32 indexed evidence,
        address indexed reporter,
        uint256 amount,
        uint256 toReporter,
        uint256 toTreasury,
        uint256 bond,
        uint256 unbonding,
        uint256 totalSlashed
    );

    /// @notice The fee cap for runners changed.
    event MaxFeeSet(uint16 previousMaxFeeBps, uint16 maxFeeBps);

    /// @notice The minimum active bond changed.
    event MinBondSet(uint256 previousMinBond, uint256 minBond);

    /// @notice The unbonding delay changed; it applies to requests made afterwards.
    event UnbondingDelaySet(uint256 previousDelay, uint256 delay);

    /// @notice The slashing parameters changed.
    event SlashParamsSet(uint16 slashBps, uint16 reporterRewardBps);

    // ------------------------------------------------------------------ errors

    /// @notice A zero address was passed.
    error RunnerRegistry_ZeroAddress();
    /// @notice A zero amount was passed.
    error RunnerRegistry_ZeroAmount();
    /// @notice The account is already a registered runner.
    error RunnerRegistry_AlreadyRegistered(address runner);
    /// @notice The account is not a registered runner.
    error RunnerRegistry_NotRegistered(address runner);
    /// @notice An empty endpoint, or one longer than {MAX_ENDPOINT_LENGTH} bytes.
    error RunnerRegistry_InvalidEndpoint(uint256 length);
    /// @notice A runner fee above the current cap.
    error RunnerRegistry_FeeTooHigh(uint256 feeBps, uint256 maxFeeBps);
    /// @notice A fee cap above {MAX_FEE_BPS_LIMIT}.
    error RunnerRegistry_MaxFeeTooHigh(uint256 maxFeeBps, uint256 limit);
    /// @notice An unbonding delay outside [{MIN_UNBONDING_DELAY}, {MAX_UNBONDING_DELAY}].
    error RunnerRegistry_UnbondingDelayOutOfRange(uint256 delay);
    /// @notice Slashing parameters above 100%, or a zero slash.
    error RunnerRegistry_SlashParamsOutOfRange(uint256 slashBps, uint256 reporterRewardBps);
    /// @notice A runner's stake would exceed 2^128 - 1.
    error RunnerRegistry_StakeTooLarge(uint256 stake);
    /// @notice More unbonding was requested than the active bond holds.
    error RunnerRegistry_InsufficientBond(address runner, uint256 bond, uint256 requested);
    /// @notice Nothing is unbonding.
    error RunnerRegistry_NothingUnbonding(address runner);
    /// @notice The unbonding delay has not passed yet.
    error RunnerRegistry_UnbondingNotReady(address runner, uint256 availableAt);
    /// @notice This evidence was already used to slash this runner.
    error RunnerRegistry_EvidenceUsed(address runner, bytes32 evidence);
    /// @notice The runner has no stake left to slash.
    error RunnerRegistry_NothingToSlash(address runner);

    // ------------------------------------------------------------------ roles and constants

    /// @notice Role that authorises UUPS upgrades.
    function UPGRADER_ROLE() external view returns (bytes32);
    /// @notice Role that pauses registrations and new stake.
    function PAUSER_ROLE() external view returns (bytes32);
    /// @notice Role that sets the runner fee cap.
    function FEE_SETTER_ROLE() external view returns (bytes32);
    /// @notice Role of the Settlement contract: the only one that may {slash}.
    function SLASHER_ROLE() external view returns (bytes32);
    /// @notice The highest fee cap governance may set (5_000 bps).
    function MAX_FEE_BPS_LIMIT() external view returns (uint16);
    /// @notice Shortest unbonding delay governance may set (1 hour).
    function MIN_UNBONDING_DELAY() external view returns (uint256);
    /// @notice Longest unbonding delay governance may set (90 days).
    function MAX_UNBONDING_DELAY() external view returns (uint256);
    /// @notice Longest endpoint URL, in bytes (512).
    function MAX_ENDPOINT_LENGTH() external view returns (uint256);

    // ------------------------------------------------------------------ runners

    /// @notice Registers the caller as a runner and stakes `bond` (may be 0; the runner is active
    ///         once its bond reaches {minBond}). Reverts while paused.
    /// @param endpoint base URL of the runner's HTTP API (1 to {MAX_ENDPOINT_LENGTH} bytes).
    /// @param feeBps the runner's fee, at most {maxFeeBps}.
    /// @param bond amount of the payment asset pulled from the caller (approve first).
    function register(string calldata endpoint, uint16 feeBps, uint256 bond) external;

    /// @notice Changes the caller's endpoint. Only a registered runner.
    function setEndpoint(string calldata endpoint) external;

    /// @notice Changes the caller's fee (at most {maxFeeBps}); applies to later settlements. Only a
    ///         registered runner.
    function setFeeBps(uint16 feeBps) external;

    /// @notice Adds `amount` to `runner`'s active bond, pulled from the caller (approve first).
    ///         Anyone may stake for a registered runner. Reverts while paused.
    function stake(address runner, uint256 amount) external;

    /// @notice {stake} funded with an EIP-2612 permit of the caller for this contract. A permit that
    ///         fails (e.g. was front-run) is ignored if the allowance already covers `amount`.
    function stakeWithPermit(address runner, uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s) external;

    /// @notice Moves `amount` of the caller's active bond to unbonding; it becomes withdrawable after
    ///         {unbondingDelay}, and the delay restarts for everything unbonding. Works while paused.
    function requestUnbond(uint256 amount) external;

    /// @notice Pays the caller everything it has unbonding once the delay has passed. Works while paused.
    /// @return amount what was paid.
    function withdrawUnbonded() external returns (uint256 amount);

    // ------------------------------------------------------------------ slashing

    /// @notice Slashes {slashBps} of `runner`'s stake (active bond first, then unbonding) for
    ///         `evidence`, paying {reporterRewardBps} of it to `reporter` and the rest to `treasury`.
    ///         Only `SLASHER_ROLE`, after it has verified the evidence. Each (runner, evidence) slashes
    ///         once. Works while paused.
    /// @return amount the amount slashed.
    function slash(address runner, bytes32 evidence, address reporter, address treasury)
        external
        returns (uint256 amount);

    // ------------------------------------------------------------------ governance

    /// @notice Sets the cap on runner fees (at most {MAX_FEE_BPS_LIMIT}). Runners above it are paid the
    ///         cap. Only `FEE_SETTER_ROLE`.
    function setMaxFeeBps(uint16 maxFeeBps) external;

    /// @notice Sets the minimum active bond. Only `DEFAULT_ADMIN_ROLE`.
    function setMinBond(uint256 minBond) external;

    /// @notice Sets the unbonding delay for later requests. Only `DEFAULT_ADMIN_ROLE`.
    function setUnbondingDelay(uint256 delay) external;

    /// @notice Sets the share of the stake slashed per equivocation (1 to 10_000 bps) and the reporter's
    ///         share of what is slashed (0 to 10_000 bps). Only `DEFAULT_ADMIN_ROLE`.
    function setSlashParams(uint16 slashBps, uint16 reporterRewardBps) external;

    /// @notice Stops registrations and new stake. Only `PAUSER_ROLE`.
    function pause() external;

    /// @notice Resumes registrations and staking. Only `PAUSER_ROLE`.
    function unpause() external;

    // ------------------------------------------------------------------ views

    /// @notice The payment asset bonds are staked in.
    function asset() external view returns (IERC20);

    /// @notice A runner's record (all zero for an unknown account).
    function getRunner(address runner) external view returns (Runner memory);

    /// @notice What Settlement needs in one call: whether `runner` is active (registered with a bond of
    ///         at least {minBond}) and the fee it is paid, min(its fee, {maxFeeBps}).
    function runnerTerms(address runner) external view returns (bool active, uint16 feeBps);

    /// @notice Whether `runner` is registered.
    function isRegistered(address runner) external view returns (bool);

    /// @notice Whether `runner` is registered with a bond of at least {minBond}.
    function isActive(address runner) external view returns (bool);

    /// @notice Number of runners ever registered.
    function runnerCount() external view returns (uint256);

    /// @notice The runner registered `index`-th (from 0), for discovery.
    function runnerAt(uint256 index) external view returns (address);

    /// @notice Whether `evidence` has already slashed `runner`.
    function isEvidenceUsed(address runner, bytes32 evidence) external view returns (bool);

    /// @notice The cap on runner fees, in bps.
    function maxFeeBps() external view returns (uint16);

    /// @notice The minimum active bond.
    function minBond() external view returns (uint256);

    /// @notice The unbonding delay in seconds.
    function unbondingDelay() external view returns (uint256);

    /// @notice The share of a runner's stake slashed per equivocation, in bps.
    function slashBps() external view returns (uint16);

    /// @notice The reporter's share of a slashed amount, in bps.
    function reporterRewardBps() external view returns (uint16);

    /// @notice The bond and unbonding stake of all runners together: what this contract owes.
    function totalStaked() external view returns (uint256);
}
