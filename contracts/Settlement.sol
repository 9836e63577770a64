// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {ICoTrainingShares} from "./interfaces/ICoTrainingShares.sol";
import {IModelRegistry} from "./interfaces/IModelRegistry.sol";
import {IModelVault} from "./interfaces/IModelVault.sol";
import {IPaymentChannels} from "./interfaces/IPaymentChannels.sol";
import {IRunnerRegistry} from "./interfaces/IRunnerRegistry.sol";
import {ISettlement} from "./interfaces/ISettlement.sol";
import {PaymentMessages} from "./libraries/PaymentMessages.sol";
import {RevenueSplit} from "./libraries/RevenueSplit.sol";
import {Batch, ModelTotal, Receipt} from "./types/PaymentTypes.sol";
import {AccessControlUpgradeable} from "@openzeppelin/contracts-upgradeable/access/AccessControlUpgradeable.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {PausableUpgradeable} from "@openzeppelin/contracts-upgradeable/utils/PausableUpgradeable.sol";
import {
    ReentrancyGuardTransientUpgradeable
} from "@openzeppelin/contracts-upgradeable/utils/ReentrancyGuardTransientUpgradeable.sol";
import {EIP712Upgradeable} from "@openzeppelin/contracts-upgradeable/utils/cryptography/EIP712Upgradeable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

/// @title Settlement
/// @notice Settles runners' batches (vouchers paid, usage recorded, receipts root stored, revenue
///         split) and slashes runners that equivocate.
/// @dev See {ISettlement}. UUPS proxy; ERC-7201 storage (EIP712Upgradeable keeps its own namespaced
///      storage; the reentrancy guard uses transient storage only).
contract Settlement is
    Initializable,
    AccessControlUpgradeable,
    PausableUpgradeable,
    EIP712Upgradeable,
    UUPSUpgradeable,
    ReentrancyGuardTransientUpgradeable,
    ISettlement
{
    using SafeERC20 for IERC20;

    bytes32 public constant UPGRADER_ROLE = keccak256("UPGRADER_ROLE");
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");
    bytes32 public constant FEE_SETTER_ROLE = keccak256("FEE_SETTER_ROLE");
    uint16 public constant MAX_PROTOCOL_FEE_BPS = 2000;
    bytes32 public constant RECEIPT_TYPEHASH = PaymentMessages.RECEIPT_TYPEHASH;

    /// @dev What {settle} writes for a runner shares one slot (112 bits are 5e33 units: beyond any
    ///      real supply; SafeCast reverts rather than wrap).
    struct RunnerAccount {
        uint32 batchCount; // batches settled; sequence numbers run from 1
        uint112 feesAccrued; // runner fees not yet claimed
        uint112 settledAmount; // cumulative gross amount settled
        uint256 feesClaimed; // cumulative runner fees claimed
    }

    /// @custom:storage-location erc7201:openlora.storage.Settlement
    struct SettlementStorage {
        IERC20 asset;
        IPaymentChannels paymentChannels;
        IRunnerRegistry runnerRegistry;
        IModelRegistry modelRegistry;
        ICoTrainingShares shares;
        address treasury;
        uint16 protocolFeeBps;
        // One slot: both fee ledgers that every settlement raises.
        uint128 protocolFeesAccrued;
        uint128 runnerFeesAccrued; // Σ over runners of feesAccrued
        uint256 protocolFeesWithdrawn;
        mapping(address runner => RunnerAccount) runners;
        mapping(address runner => mapping(uint256 sequence => bytes32 root)) batchRoots;
        mapping(uint256 modelId => PendingModel) pending;
    }

    /// @dev One slot per model: usage and revenue settled and not yet flushed. `known` stays set
    ///      after a flush so that the next settle rewrites a non-zero slot (2,900, not 20,000).
    struct PendingModel {
        bool known;
        uint56 calls;
        uint96 revenue; // gross
        uint96 net; // after protocol and runner fees: the vault's and the holders' parts
    }

    // keccak256(abi.encode(uint256(keccak256("openlora.storage.Settlement")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant SETTLEMENT_STORAGE_LOCATION =
        0x06ea47631e951b62801da9f0983f1364f36f25cb98420ccd413fa9396a81aa00;

    function _getSettlementStorage() private pure returns (SettlementStorage storage $) {
        assembly {
            $.slot := SETTLEMENT_STORAGE_LOCATION
        }
    }

    /// @notice The protocol contracts Settlement works with, for {initialize}.
    struct Modules {
        IERC20 asset;
        IPaymentChannels paymentChannels;
        IRunnerRegistry runnerRegistry;
        IModelRegistry modelRegistry;
        ICoTrainingShares shares;
    }

    /// @dev The modules, fixed in the implementation: settle reads them on every call, and an
    ///      immutable costs nothing where a storage slot costs 2,100 cold (five per settle). The
    ///      storage fields keep the same values for the record; an upgrade passes the same modules.
    /// @custom:oz-upgrades-unsafe-allow state-variable-immutable
    IERC20 private immutable ASSET;
    /// @custom:oz-upgrades-unsafe-allow state-variable-immutable
    IPaymentChannels private immutable PAYMENT_CHANNELS;
    /// @custom:oz-upgrades-unsafe-allow state-variable-immutable
    IRunnerRegistry private immutable RUNNER_REGISTRY;
    /// @custom:oz-upgrades-unsafe-allow state-variable-immutable
    IModelRegistry private immutable MODEL_REGISTRY;
    /// @custom:oz-upgrades-unsafe-allow state-variable-immutable
    ICoTrainingShares private immutable SHARES;

    /// @param modules the payment asset and the contracts this implementation works with; the
    ///        proxy's {initialize} must name the same.
    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor(Modules memory modules) {
        _checkModules(modules);
        ASSET = modules.asset;
        PAYMENT_CHANNELS = modules.paymentChannels;
        RUNNER_REGISTRY = modules.runnerRegistry;
        MODEL_REGISTRY = modules.modelRegistry;
        SHARES = modules.shares;
        _disableInitializers();
    }

    /// @notice Initializes the proxy.
    /// @param admin receives `DEFAULT_ADMIN_ROLE`, `UPGRADER_ROLE`, `PAUSER_ROLE` and `FEE_SETTER_ROLE`.
    /// @param modules the payment asset and the contracts Settlement calls.
    /// @param treasury_ receives protocol fees and the treasury's part of slashing.
    /// @param protocolFeeBps_ the protocol fee (at most {MAX_PROTOCOL_FEE_BPS}).
    function initialize(address admin, Modules calldata modules, address treasury_, uint16 protocolFeeBps_)
        external
        initializer
    {
        if (admin == address(0)) revert Settlement_ZeroAddress();
        _checkModules(modules);
        if (
            address(modules.asset) != address(ASSET) || address(modules.paymentChannels) != address(PAYMENT_CHANNELS)
                || address(modules.runnerRegistry) != address(RUNNER_REGISTRY)
                || address(modules.modelRegistry) != address(MODEL_REGISTRY)
                || address(modules.shares) != address(SHARES)
        ) revert Settlement_ModulesMismatch();
        __AccessControl_init();
        __Pausable_init();
        __EIP712_init("OpenLoRA Settlement", "1");
        __ReentrancyGuardTransient_init();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(UPGRADER_ROLE, admin);
        _grantRole(PAUSER_ROLE, admin);
        _grantRole(FEE_SETTER_ROLE, admin);
        SettlementStorage storage $ = _getSettlementStorage();
        $.asset = modules.asset;
        $.paymentChannels = modules.paymentChannels;
        $.runnerRegistry = modules.runnerRegistry;
        $.modelRegistry = modules.modelRegistry;
        $.shares = modules.shares;
        _setTreasury(treasury_);
        _setProtocolFeeBps(protocolFeeBps_);
    }

    // ------------------------------------------------------------------ runners

    /// @inheritdoc ISettlement
    function settle(Batch calldata batch) external whenNotPaused nonReentrant returns (uint256 sequence) {
        SettlementStorage storage $ = _getSettlementStorage();
        (bool active, uint16 runnerFeeBps) = RUNNER_REGISTRY.runnerTerms(msg.sender);
        if (!active) revert Settlement_RunnerNotActive(msg.sender);
        if (batch.vouchers.length == 0) revert Settlement_EmptyBatch();
        if (batch.receiptsRoot == bytes32(0)) revert Settlement_ZeroRoot();

        // Pays every lane (signatures, monotonicity, balances checked there) and sends us the total.
        (ModelTotal[] memory paid, uint256 amount) = PAYMENT_CHANNELS.settleVouchers(msg.sender, batch.vouchers);
        _checkTotals(batch.totals, paid);

        RunnerAccount storage account = $.runners[msg.sender];
        sequence = account.batchCount + 1;
        $.batchRoots[msg.sender][sequence] = batch.receiptsRoot;

        (uint256 calls, uint256 protocolFees, uint256 runnerFees) = _distribute($, paid, runnerFeeBps, sequence);
        uint256 settled = account.settledAmount + amount;
        account.batchCount = SafeCast.toUint32(sequence);
        account.feesAccrued = SafeCast.toUint112(account.feesAccrued + runnerFees);
        account.settledAmount = SafeCast.toUint112(settled);
        $.protocolFeesAccrued = SafeCast.toUint128($.protocolFeesAccrued + protocolFees);
        $.runnerFeesAccrued = SafeCast.toUint128($.runnerFeesAccrued + runnerFees);
        emit BatchSettled(msg.sender, sequence, batch.receiptsRoot, batch.vouchers.length, calls, amount, settled);
    }

    /// @inheritdoc ISettlement
    function claimRunnerFees(address to) external nonReentrant returns (uint256 amount) {
        if (to == address(0)) revert Settlement_ZeroAddress();
        SettlementStorage storage $ = _getSettlementStorage();
        RunnerAccount storage account = $.runners[msg.sender];
        amount = account.feesAccrued;
        if (amount == 0) return 0;
        account.feesAccrued = 0;
        // casting to 'uint128' is safe because amount is one runner's part of that 128-bit total.
        // forge-lint: disable-next-line(unsafe-typecast)
        $.runnerFeesAccrued -= uint128(amount);
        uint256 claimed = account.feesClaimed + amount;
        account.feesClaimed = claimed;
        emit RunnerFeesClaimed(msg.sender, to, amount, claimed);
        PAYMENT_CHANNELS.payOut(to, amount);
    }

    // ------------------------------------------------------------------ anyone

    /// @inheritdoc ISettlement
    function withdrawProtocolFees() external nonReentrant returns (uint256 amount) {
        SettlementStorage storage $ = _getSettlementStorage();
        amount = $.protocolFeesAccrued;
        if (amount == 0) return 0;
        $.protocolFeesAccrued = 0;
        uint256 withdrawn = $.protocolFeesWithdrawn + amount;
        $.protocolFeesWithdrawn = withdrawn;
        address treasury_ = $.treasury;
        emit ProtocolFeesWithdrawn(treasury_, amount, withdrawn);
        PAYMENT_CHANNELS.payOut(treasury_, amount);
    }

    /// @notice Moves a model's pending usage into the registry and its pending revenue into its
    ///         vault and to its holders, split by the terms and the vault's supply now. Anyone may call.
    function flush(uint256 modelId) external nonReentrant {
        _flush(_getSettlementStorage(), modelId);
    }

    /// @notice {flush} for several models.
    function flushMany(uint256[] calldata modelIds) external nonReentrant {
        SettlementStorage storage $ = _getSettlementStorage();
        for (uint256 i; i < modelIds.length; ++i) {
            _flush($, modelIds[i]);
        }
    }

    /// @notice What a model has settled and not yet flushed.
    function pendingOf(uint256 modelId) external view returns (uint256 calls, uint256 revenue, uint256 net) {
        PendingModel memory m = _getSettlementStorage().pending[modelId];
        return (m.calls, m.revenue, m.net);
    }

    /// @notice What {flush} would do now: a model's pending usage and revenue, and the net split
    ///         between its vault and its holders by the terms and the vault's supply now.
    function pendingSplitOf(uint256 modelId)
        external
        view
        returns (uint256 calls, uint256 revenue, uint256 vaultAmount, uint256 holdersAmount)
    {
        PendingModel memory m = _getSettlementStorage().pending[modelId];
        if (m.calls == 0 && m.revenue == 0) return (0, 0, 0, 0);
        IModelRegistry.ModelTerms memory terms = MODEL_REGISTRY.getModelTerms(modelId);
        uint256 vaultShareBps = terms.vaultShareBps;
        if (vaultShareBps != 0) {
            vaultShareBps = RevenueSplit.effectiveVaultShareBps(vaultShareBps, IERC20(terms.vault).totalSupply());
        }
        vaultAmount = uint256(m.net) * vaultShareBps / RevenueSplit.BPS;
        return (m.calls, m.revenue, vaultAmount, m.net - vaultAmount);
    }

    function _flush(SettlementStorage storage $, uint256 modelId) private {
        PendingModel memory m = $.pending[modelId];
        if (m.calls == 0 && m.revenue == 0) return;
        $.pending[modelId] = PendingModel({known: true, calls: 0, revenue: 0, net: 0});
        (address vault, uint256 vaultShareBps) = MODEL_REGISTRY.recordUsage(modelId, m.calls, m.revenue);
        // An empty vault takes nothing: its share goes to the holders (see IModelVault).
        if (vaultShareBps != 0) {
            vaultShareBps = RevenueSplit.effectiveVaultShareBps(vaultShareBps, IERC20(vault).totalSupply());
        }
        uint256 vaultAmount = m.net * vaultShareBps / RevenueSplit.BPS;
        uint256 holdersAmount = m.net - vaultAmount;
        if (vaultAmount != 0) {
            PAYMENT_CHANNELS.payOut(vault, vaultAmount);
            IModelVault(vault).receiveRevenue(vaultAmount);
        }
        if (holdersAmount != 0) {
            PAYMENT_CHANNELS.payOut(address(SHARES), holdersAmount);
            SHARES.creditRevenue(modelId, holdersAmount);
        }
        emit RevenueFlushed(modelId, m.calls, m.revenue, vaultAmount, holdersAmount);
    }

    /// @inheritdoc ISettlement
    function reportEquivocation(
        address runner,
        Receipt calldata a,
        bytes calldata signatureA,
        Receipt calldata b,
        bytes calldata signatureB
    ) external nonReentrant returns (uint256 slashed) {
        if (a.requestHash != b.requestHash) {
            revert Settlement_DifferentRequests(a.requestHash, b.requestHash);
        }
        if (a.outputHash == b.outputHash) revert Settlement_SameOutput(a.requestHash, a.outputHash);
        if (!SignatureChecker.isValidSignatureNow(runner, _hashTypedDataV4(PaymentMessages.hashReceipt(a)), signatureA))
        {
            revert Settlement_InvalidReceiptSignature(runner);
        }
        if (!SignatureChecker.isValidSignatureNow(runner, _hashTypedDataV4(PaymentMessages.hashReceipt(b)), signatureB))
        {
            revert Settlement_InvalidReceiptSignature(runner);
        }
        SettlementStorage storage $ = _getSettlementStorage();
        slashed = RUNNER_REGISTRY.slash(runner, a.requestHash, msg.sender, $.treasury);
        emit EquivocationReported(runner, a.requestHash, msg.sender, a.outputHash, b.outputHash, slashed);
    }

    // ------------------------------------------------------------------ governance

    /// @inheritdoc ISettlement
    function setProtocolFeeBps(uint16 feeBps) external onlyRole(FEE_SETTER_ROLE) {
        _setProtocolFeeBps(feeBps);
    }

    /// @inheritdoc ISettlement
    function setTreasury(address treasury_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setTreasury(treasury_);
    }

    /// @inheritdoc ISettlement
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @inheritdoc ISettlement
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc ISettlement
    function verifyLeaf(address runner, uint256 sequence, bytes32 leaf, bytes32[] calldata proof)
        public
        view
        returns (bool)
    {
        bytes32 root = _getSettlementStorage().batchRoots[runner][sequence];
        return root != bytes32(0) && MerkleProof.verifyCalldata(proof, root, leaf);
    }

    /// @inheritdoc ISettlement
    function verifyReceipt(address runner, uint256 sequence, Receipt calldata receipt, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        return verifyLeaf(runner, sequence, PaymentMessages.receiptLeaf(PaymentMessages.hashReceipt(receipt)), proof);
    }

    /// @inheritdoc ISettlement
    function receiptLeaf(Receipt calldata receipt) external pure returns (bytes32) {
        return PaymentMessages.receiptLeaf(PaymentMessages.hashReceipt(receipt));
    }

    /// @inheritdoc ISettlement
    function receiptDigest(Receipt calldata receipt) external view returns (bytes32) {
        return _hashTypedDataV4(PaymentMessages.hashReceipt(receipt));
    }

    /// @inheritdoc ISettlement
    function batchRoot(address runner, uint256 sequence) external view returns (bytes32) {
        return _getSettlementStorage().batchRoots[runner][sequence];
    }

    /// @inheritdoc ISettlement
    function batchCount(address runner) external view returns (uint256) {
        return _getSettlementStorage().runners[runner].batchCount;
    }

    /// @inheritdoc ISettlement
    function settledAmount(address runner) external view returns (uint256) {
        return _getSettlementStorage().runners[runner].settledAmount;
    }

    /// @inheritdoc ISettlement
    function protocolFeesAccrued() external view returns (uint256) {
        return _getSettlementStorage().protocolFeesAccrued;
    }

    /// @inheritdoc ISettlement
    function runnerFeesAccrued(address runner) external view returns (uint256) {
        return _getSettlementStorage().runners[runner].feesAccrued;
    }

    /// @inheritdoc ISettlement
    function runnerFeesClaimed(address runner) external view returns (uint256) {
        return _getSettlementStorage().runners[runner].feesClaimed;
    }

    /// @inheritdoc ISettlement
    function protocolFeesWithdrawn() external view returns (uint256) {
        return _getSettlementStorage().protocolFeesWithdrawn;
    }

    /// @inheritdoc ISettlement
    function totalFeesOwed() external view returns (uint256) {
        SettlementStorage storage $ = _getSettlementStorage();
        return $.protocolFeesAccrued + $.runnerFeesAccrued;
    }

    /// @inheritdoc ISettlement
    function protocolFeeBps() external view returns (uint16) {
        return _getSettlementStorage().protocolFeeBps;
    }

    /// @inheritdoc ISettlement
    function treasury() external view returns (address) {
        return _getSettlementStorage().treasury;
    }

    /// @inheritdoc ISettlement
    function asset() external view returns (IERC20) {
        return ASSET;
    }

    /// @inheritdoc ISettlement
    function paymentChannels() external view returns (IPaymentChannels) {
        return PAYMENT_CHANNELS;
    }

    /// @inheritdoc ISettlement
    function runnerRegistry() external view returns (IRunnerRegistry) {
        return RUNNER_REGISTRY;
    }

    /// @inheritdoc ISettlement
    function modelRegistry() external view returns (IModelRegistry) {
        return MODEL_REGISTRY;
    }

    /// @inheritdoc ISettlement
    function shares() external view returns (ICoTrainingShares) {
        return SHARES;
    }

    /// @inheritdoc ISettlement
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // ------------------------------------------------------------------ internals

    function _checkModules(Modules memory modules) private pure {
        if (
            address(modules.asset) == address(0) || address(modules.paymentChannels) == address(0)
                || address(modules.runnerRegistry) == address(0) || address(modules.modelRegistry) == address(0)
                || address(modules.shares) == address(0)
        ) revert Settlement_ZeroAddress();
    }

    /// @dev The batch's listed totals must equal what its vouchers paid, model by model.
    function _checkTotals(ModelTotal[] calldata listed, ModelTotal[] memory paid) private pure {
        uint256 models = paid.length;
        if (listed.length != models) revert Settlement_TotalsLengthMismatch(listed.length, models);
        for (uint256 i; i < models; ++i) {
            ModelTotal memory p = paid[i];
            ModelTotal calldata l = listed[i];
            if (l.modelId != p.modelId || l.calls != p.calls || l.amount != p.amount) {
                revert Settlement_TotalsMismatch(l.modelId, l.calls, l.amount, p.calls, p.amount);
            }
        }
    }

    /// @dev Per model, usage and net revenue accumulate in one slot until {flush}; the registry is
    ///      read only the first time a model is seen, to refuse an unknown model.
    function _distribute(SettlementStorage storage $, ModelTotal[] memory paid, uint256 runnerFeeBps, uint256)
        private
        returns (uint256 calls, uint256 protocolFees, uint256 runnerFees)
    {
        uint256 protocolFeeBps = $.protocolFeeBps;
        uint256 models = paid.length;
        for (uint256 i; i < models; ++i) {
            ModelTotal memory p = paid[i];
            RevenueSplit.Parts memory parts = RevenueSplit.split(p.amount, protocolFeeBps, runnerFeeBps, 0);
            PendingModel storage pm = $.pending[p.modelId];
            PendingModel memory m = pm;
            if (!m.known) {
                MODEL_REGISTRY.getModelTerms(p.modelId);
                m.known = true;
            }
            m.calls = SafeCast.toUint56(m.calls + p.calls);
            m.revenue = SafeCast.toUint96(m.revenue + p.amount);
            m.net = SafeCast.toUint96(m.net + parts.holders);
            pm.known = m.known;
            pm.calls = m.calls;
            pm.revenue = m.revenue;
            pm.net = m.net;
            calls += p.calls;
            protocolFees += parts.protocolFee;
            runnerFees += parts.runnerFee;
            emit RevenuePending(p.modelId, msg.sender, p.calls, p.amount, parts.holders);
        }
    }

    function _setProtocolFeeBps(uint16 feeBps) private {
        if (feeBps > MAX_PROTOCOL_FEE_BPS) revert Settlement_ProtocolFeeTooHigh(feeBps, MAX_PROTOCOL_FEE_BPS);
        SettlementStorage storage $ = _getSettlementStorage();
        emit ProtocolFeeSet($.protocolFeeBps, feeBps);
        $.protocolFeeBps = feeBps;
    }

    function _setTreasury(address treasury_) private {
        if (treasury_ == address(0)) revert Settlement_ZeroAddress();
        SettlementStorage storage $ = _getSettlementStorage();
        emit TreasurySet($.treasury, treasury_);
        $.treasury = treasury_;
    }

    function _authorizeUpgrade(address) internal override onlyRole(UPGRADER_ROLE) {}
}
