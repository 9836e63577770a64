// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {Batch, Receipt} from "../types/PaymentTypes.sol";
import {ICoTrainingShares} from "./ICoTrainingShares.sol";
import {IModelRegistry} from "./IModelRegistry.sol";
import {IPaymentChannels} from "./IPaymentChannels.sol";
import {IRunnerRegistry} from "./IRunnerRegistry.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title ISettlement
/// @notice Where runners are paid and calls are attributed. {settle} takes a runner's batch — the
///         Merkle root of its receipts, the per-model totals and the latest voucher of each lane it
///         settles — has the payment channels pay the vouchers, checks that the totals equal what the
///         vouchers paid per model, raises each model's usage counters in the model registry, stores
///         the root under the runner's next batch sequence number, and splits each model's amount
///         ({RevenueSplit}): protocol fee and runner fee off the gross, the model's vault share of the
///         rest to its ERC-4626 vault (unlocked linearly there) if the vault has shares, and otherwise
///         to the holders too (an empty vault takes no revenue: no first depositor can collect it), the
///         remainder to its co-training share holders by units. Any receipt can then be proven with {verifyReceipt}. A runner that signs
///         two receipts for one request with different outputs is slashed by whoever shows both
///         ({reportEquivocation}).
/// @dev Fees are pull-based: the protocol fee accrues here until {withdrawProtocolFees} sends it to
///      the treasury, each runner's fee until it calls {claimRunnerFees}; neither is ever paused.
///      Receipts are EIP-712 typed data under this contract's domain (`name = "OpenLoRA Settlement"`,
///      `version = "1"`, chain id, this proxy); a receipt's Merkle leaf is
///      keccak256(abi.encode(structHash)) and inner nodes hash sorted pairs.
///      Settlement accepts vouchers for a model whatever its registry status: a consumer signed for
///      the calls, the runner served them, and the registry records usage in every status. Runners
///      decide what they serve; the price per call is enforced by the runner and the consumer
///      off-chain, not here.
///      Roles: `DEFAULT_ADMIN_ROLE` (roles, {setTreasury}), `UPGRADER_ROLE` (UUPS), `PAUSER_ROLE`
///      (stops {settle}), `FEE_SETTER_ROLE` ({setProtocolFeeBps}). Settlement itself must hold
///      `SETTLEMENT_ROLE` on the payment channels, the model registry, the shares contract and the
///      vault factory, and `SLASHER_ROLE` on the runner registry.
interface ISettlement {
    // ------------------------------------------------------------------ events

    /// @notice A runner settled a batch. `lanes` is the number of vouchers, `calls`/`amount` what they
    ///         paid in total; `runnerTotalAmount` the runner's cumulative settled amount.
    event BatchSettled(
        address indexed runner,
        uint256 indexed sequence,
        bytes32 indexed receiptsRoot,
        uint256 lanes,
        uint256 calls,
        uint256 amount,
        uint256 runnerTotalAmount
    );

    /// @notice A batch's amount for one model, now pending in Settlement until {flush}: `net` is
    ///         what is left after the protocol and runner fees, for the vault and the holders.
    event RevenuePending(uint256 indexed modelId, address indexed runner, uint256 calls, uint256 amount, uint256 net);

    /// @notice A model's pending usage and revenue went to the registry, its vault and its holders.
    event RevenueFlushed(
        uint256 indexed modelId, uint256 calls, uint256 amount, uint256 vaultAmount, uint256 holdersAmount
    );

    /// @notice Accrued protocol fees were sent to the treasury; `totalWithdrawn` is cumulative.
    event ProtocolFeesWithdrawn(address indexed treasury, uint256 amount, uint256 totalWithdrawn);

    /// @notice A runner claimed its accrued fees; `totalClaimed` is the runner's cumulative claims.
    event RunnerFeesClaimed(address indexed runner, address indexed to, uint256 amount, uint256 totalClaimed);

    /// @notice A runner was proven to have signed two outputs for one request and was slashed.
    event EquivocationReported(
        address indexed runner,
        bytes32 indexed requestHash,
        address indexed reporter,
        bytes32 outputHashA,
        bytes32 outputHashB,
        uint256 slashed
    );

    /// @notice The protocol fee changed; it applies to later settlements.
    event ProtocolFeeSet(uint16 previousFeeBps, uint16 feeBps);

    /// @notice The treasury changed.
    event TreasurySet(address indexed previousTreasury, address indexed treasury);

    // ------------------------------------------------------------------ errors

    /// @notice A zero address was passed.
    error Settlement_ZeroAddress();
    /// @notice {initialize} named other modules than the implementation was built with.
    error Settlement_ModulesMismatch();
    /// @notice The caller is not an active runner (registered with at least the minimum bond).
    error Settlement_RunnerNotActive(address runner);
    /// @notice A batch without vouchers.
    error Settlement_EmptyBatch();
    /// @notice A batch with a zero receipts root.
    error Settlement_ZeroRoot();
    /// @notice The batch lists `listed` model totals but its vouchers pay `paid` models.
    error Settlement_TotalsLengthMismatch(uint256 listed, uint256 paid);
    /// @notice The batch's totals for a model differ from what its vouchers paid.
    error Settlement_TotalsMismatch(
        uint256 modelId, uint256 listedCalls, uint256 listedAmount, uint256 paidCalls, uint256 paidAmount
    );
    /// @notice A protocol fee above {MAX_PROTOCOL_FEE_BPS}.
    error Settlement_ProtocolFeeTooHigh(uint256 feeBps, uint256 maxFeeBps);
    /// @notice The two receipts are for different requests.
    error Settlement_DifferentRequests(bytes32 requestHashA, bytes32 requestHashB);
    /// @notice The two receipts carry the same output: no equivocation.
    error Settlement_SameOutput(bytes32 requestHash, bytes32 outputHash);
    /// @notice A receipt signature that is not `runner`'s for this chain and contract.
    error Settlement_InvalidReceiptSignature(address runner);

    // ------------------------------------------------------------------ roles and constants

    /// @notice Role that authorises UUPS upgrades.
    function UPGRADER_ROLE() external view returns (bytes32);
    /// @notice Role that pauses and unpauses settlement.
    function PAUSER_ROLE() external view returns (bytes32);
    /// @notice Role that sets the protocol fee.
    function FEE_SETTER_ROLE() external view returns (bytes32);
    /// @notice The highest protocol fee governance may set (2_000 bps).
    function MAX_PROTOCOL_FEE_BPS() external view returns (uint16);
    /// @notice EIP-712 type hash of Receipt.
    function RECEIPT_TYPEHASH() external view returns (bytes32);

    // ------------------------------------------------------------------ runners

    /// @notice Settles a batch of the caller (an active runner): pays its vouchers, checks the totals,
    ///         records usage, stores the receipts root and splits the revenue (see the contract notes).
    ///         Reverts while paused.
    /// @param batch the receipts root, per-model totals (strictly ascending model ids) and vouchers
    ///        (grouped by model in the same order).
    /// @return sequence the batch's sequence number for the caller (from 1).
    function settle(Batch calldata batch) external returns (uint256 sequence);

    /// @notice Pays the caller's accrued runner fees to `to`. Never paused.
    /// @return amount what was paid (0 is not an error).
    function claimRunnerFees(address to) external returns (uint256 amount);

    // ------------------------------------------------------------------ anyone

    /// @notice Sends the accrued protocol fees to the treasury. Anyone may call. Never paused.
    /// @return amount what was sent (0 is not an error).
    function withdrawProtocolFees() external returns (uint256 amount);

    /// @notice Slashes `runner` with two receipts it signed for the same request with different
    ///         outputs; the caller is the reporter and gets the runner registry's reporter share.
    ///         Works while paused. Each (runner, request) slashes once.
    /// @param runner the runner that signed both (an EOA's ECDSA or an ERC-1271 contract's signature).
    /// @return slashed the amount taken from the runner's stake.
    function reportEquivocation(
        address runner,
        Receipt calldata a,
        bytes calldata signatureA,
        Receipt calldata b,
        bytes calldata signatureB
    ) external returns (uint256 slashed);

    // ------------------------------------------------------------------ governance

    /// @notice Sets the protocol fee (at most {MAX_PROTOCOL_FEE_BPS}). Only `FEE_SETTER_ROLE`.
    function setProtocolFeeBps(uint16 feeBps) external;

    /// @notice Sets the treasury (fees and slashing proceeds). Only `DEFAULT_ADMIN_ROLE`.
    function setTreasury(address treasury) external;

    /// @notice Stops settlement. Only `PAUSER_ROLE`. Claims, fee withdrawals and equivocation reports continue.
    function pause() external;

    /// @notice Resumes settlement. Only `PAUSER_ROLE`.
    function unpause() external;

    // ------------------------------------------------------------------ views

    /// @notice Whether `leaf` is included in the batch `sequence` of `runner` (OpenZeppelin
    ///         MerkleProof, sorted pairs). False for a batch that does not exist.
    function verifyLeaf(address runner, uint256 sequence, bytes32 leaf, bytes32[] calldata proof)
        external
        view
        returns (bool);

    /// @notice Whether `receipt` is included in the batch `sequence` of `runner`.
    function verifyReceipt(address runner, uint256 sequence, Receipt calldata receipt, bytes32[] calldata proof)
        external
        view
        returns (bool);

    /// @notice The Merkle leaf of a receipt: keccak256(abi.encode(receiptStructHash)).
    function receiptLeaf(Receipt calldata receipt) external pure returns (bytes32);

    /// @notice The EIP-712 digest a runner signs for a receipt on this chain and contract.
    function receiptDigest(Receipt calldata receipt) external view returns (bytes32);

    /// @notice The receipts root of the batch `sequence` of `runner` (zero if none).
    function batchRoot(address runner, uint256 sequence) external view returns (bytes32);

    /// @notice Number of batches `runner` has settled; sequence numbers run from 1 to this.
    function batchCount(address runner) external view returns (uint256);

    /// @notice The runner's cumulative settled amount.
    function settledAmount(address runner) external view returns (uint256);

    /// @notice Protocol fees accrued and not yet withdrawn.
    function protocolFeesAccrued() external view returns (uint256);

    /// @notice A runner's fees accrued and not yet claimed.
    function runnerFeesAccrued(address runner) external view returns (uint256);

    /// @notice A runner's cumulative claimed fees.
    function runnerFeesClaimed(address runner) external view returns (uint256);

    /// @notice Cumulative protocol fees sent to the treasury.
    function protocolFeesWithdrawn() external view returns (uint256);

    /// @notice All fees held here (protocol + runners): what this contract owes.
    function totalFeesOwed() external view returns (uint256);

    /// @notice The protocol fee in bps.
    function protocolFeeBps() external view returns (uint16);

    /// @notice Where protocol fees and the treasury's part of slashing go.
    function treasury() external view returns (address);

    /// @notice The payment asset.
    function asset() external view returns (IERC20);

    /// @notice The payment channels.
    function paymentChannels() external view returns (IPaymentChannels);

    /// @notice The runner registry.
    function runnerRegistry() external view returns (IRunnerRegistry);

    /// @notice The model registry.
    function modelRegistry() external view returns (IModelRegistry);

    /// @notice The co-training shares contract.
    function shares() external view returns (ICoTrainingShares);

    /// @notice The EIP-712 domain separator.
    function DOMAIN_SEPARATOR() external view returns (bytes32);
}
