// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {PaymentChannels} from "../../contracts/PaymentChannels.sol";
import {RunnerRegistry} from "../../contracts/RunnerRegistry.sol";
import {Settlement} from "../../contracts/Settlement.sol";
import {PaymentMessages} from "../../contracts/libraries/PaymentMessages.sol";
// forge-std declares its own `Receipt` (StdCheats): the protocol's is imported under another name.
import {Batch, ModelTotal, Receipt as CallReceipt, SignedVoucher} from "../../contracts/types/PaymentTypes.sol";
import {ProtocolFixture} from "../utils/ProtocolFixture.sol";
import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @notice The whole protocol behind proxies — registry, shares, vaults (ProtocolFixture) plus the
///         runner registry, payment channels and Settlement, wired with the roles the deploy script
///         grants — and helpers to register runners, open channels and sign vouchers and receipts.
abstract contract PaymentsFixture is ProtocolFixture {
    uint16 internal constant PROTOCOL_FEE_BPS = 500;
    uint16 internal constant RUNNER_FEE_BPS = 1000;
    uint16 internal constant MAX_RUNNER_FEE_BPS = 3000;
    uint256 internal constant MIN_BOND = 1000e6;
    uint256 internal constant UNBONDING_DELAY = 7 days;
    uint16 internal constant SLASH_BPS = 5000;
    uint16 internal constant REPORTER_BPS = 4000;
    uint256 internal constant CHALLENGE_PERIOD = 1 days;

    address internal treasury = makeAddr("treasury");

    RunnerRegistry internal runners;
    PaymentChannels internal channels;
    Settlement internal settler;

    function setUp() public virtual override {
        super.setUp();
        _deployPayments();
    }

    function _deployPayments() internal {
        runners = RunnerRegistry(
            address(
                new ERC1967Proxy(
                    address(new RunnerRegistry()),
                    abi.encodeCall(
                        RunnerRegistry.initialize,
                        (
                            admin,
                            IERC20(address(usd)),
                            MAX_RUNNER_FEE_BPS,
                            MIN_BOND,
                            UNBONDING_DELAY,
                            SLASH_BPS,
                            REPORTER_BPS
                        )
                    )
                )
            )
        );
        channels = PaymentChannels(
            address(
                new ERC1967Proxy(
                    address(new PaymentChannels()),
                    abi.encodeCall(PaymentChannels.initialize, (admin, IERC20(address(usd)), runners, CHALLENGE_PERIOD))
                )
            )
        );
        Settlement.Modules memory modules = Settlement.Modules({
            asset: IERC20(address(usd)),
            paymentChannels: channels,
            runnerRegistry: runners,
            modelRegistry: registry,
            shares: shares
        });
        settler = Settlement(
            address(
                new ERC1967Proxy(
                    address(new Settlement(modules)),
                    abi.encodeCall(Settlement.initialize, (admin, modules, treasury, PROTOCOL_FEE_BPS))
                )
            )
        );
        vm.startPrank(admin);
        channels.grantRole(channels.SETTLEMENT_ROLE(), address(settler));
        runners.grantRole(runners.SLASHER_ROLE(), address(settler));
        registry.grantRole(registry.SETTLEMENT_ROLE(), address(settler));
        shares.grantRole(shares.SETTLEMENT_ROLE(), address(settler));
        factory.grantRole(factory.SETTLEMENT_ROLE(), address(settler));
        factory.setSettlement(address(settler));
        shares.setSettlement(address(settler));
        vm.stopPrank();
    }

    // ------------------------------------------------------------------ runners and consumers

    function _registerRunner(address runner, uint16 feeBps, uint256 bond) internal {
        usd.mint(runner, bond);
        vm.startPrank(runner);
        usd.approve(address(runners), bond);
        runners.register("https://runner.example/v1", feeBps, bond);
        vm.stopPrank();
    }

    function _open(address consumer, address runner, uint256 amount, address sessionKey)
        internal
        returns (uint256 channelId)
    {
        usd.mint(consumer, amount);
        vm.startPrank(consumer);
        usd.approve(address(channels), amount);
        channelId = channels.open(runner, amount, sessionKey);
        vm.stopPrank();
    }

    // ------------------------------------------------------------------ vouchers and batches

    function _voucherDigest(
        address verifyingContract,
        uint256 chainId,
        uint256 channelId,
        uint256 modelId,
        uint256 amount,
        uint64 calls,
        bytes32 transcript
    ) internal pure returns (bytes32) {
        bytes32 domain = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("OpenLoRA PaymentChannels"),
                keccak256("1"),
                chainId,
                verifyingContract
            )
        );
        return keccak256(
            abi.encodePacked(
                hex"1901", domain, PaymentMessages.hashVoucher(channelId, modelId, amount, calls, transcript)
            )
        );
    }

    /// @dev A voucher for this chain and the channels proxy, signed with `key`.
    function _voucher(uint256 key, uint256 channelId, uint256 modelId, uint256 amount, uint64 calls)
        internal
        view
        returns (SignedVoucher memory v)
    {
        bytes32 transcript = keccak256(abi.encode("transcript", channelId, modelId, calls));
        v = SignedVoucher({
            channelId: channelId,
            modelId: modelId,
            cumulativeAmount: amount,
            cumulativeCalls: calls,
            transcriptHash: transcript,
            signature: _sign(
                key, _voucherDigest(address(channels), block.chainid, channelId, modelId, amount, calls, transcript)
            )
        });
    }

    function _one(SignedVoucher memory v) internal pure returns (SignedVoucher[] memory list) {
        list = new SignedVoucher[](1);
        list[0] = v;
    }

    function _total(uint256 modelId, uint256 calls, uint256 amount) internal pure returns (ModelTotal[] memory list) {
        list = new ModelTotal[](1);
        list[0] = ModelTotal({modelId: modelId, calls: calls, amount: amount});
    }

    function _batch(bytes32 root, ModelTotal[] memory totals, SignedVoucher[] memory vouchers)
        internal
        pure
        returns (Batch memory)
    {
        return Batch({receiptsRoot: root, totals: totals, vouchers: vouchers});
    }

    /// @dev A one-lane batch whose totals are the voucher's increase over `paidAmount`/`paidCalls`.
    function _lanebatch(SignedVoucher memory v, uint256 paidAmount, uint256 paidCalls)
        internal
        pure
        returns (Batch memory)
    {
        return _batch(
            keccak256(abi.encode("root", v.channelId, v.cumulativeCalls)),
            _total(v.modelId, v.cumulativeCalls - paidCalls, v.cumulativeAmount - paidAmount),
            _one(v)
        );
    }

    // ------------------------------------------------------------------ receipts

    function _receipt(uint256 channelId, uint256 modelId, uint64 callIndex, bytes32 outputHash)
        internal
        pure
        returns (CallReceipt memory r)
    {
        r = CallReceipt({
            requestHash: PaymentMessages.requestHash(channelId, modelId, callIndex, keccak256("request body")),
            modelId: modelId,
            adapterHash: keccak256("adapter"),
            outputHash: outputHash,
            channelId: channelId,
            callIndex: callIndex
        });
    }

    function _signReceipt(uint256 key, CallReceipt memory r) internal view returns (bytes memory) {
        return _sign(key, settler.receiptDigest(r));
    }

    // ------------------------------------------------------------------ accounting

    /// @dev Everything the protocol owes in the payment asset, by its own books.
    function _owed(address[] memory vaults) internal view returns (uint256 owed) {
        owed = channels.totalBalance() + runners.totalStaked() + settler.totalFeesOwed() + shares.totalOwed();
        for (uint256 i; i < vaults.length; ++i) {
            owed += IVaultAccounting(vaults[i]).accountedAssets();
            // Revenue settled and not yet flushed: PaymentChannels keeps it for Settlement.
            (,, uint256 net) = settler.pendingOf(IVaultAccounting(vaults[i]).modelId());
            owed += net;
        }
    }

    /// @dev The payment asset the protocol's contracts hold.
    function _held(address[] memory vaults) internal view returns (uint256 held) {
        held = usd.balanceOf(address(channels)) + usd.balanceOf(address(runners)) + usd.balanceOf(address(settler))
            + usd.balanceOf(address(shares));
        for (uint256 i; i < vaults.length; ++i) {
            held += usd.balanceOf(vaults[i]);
        }
    }
}

interface IVaultAccounting {
    function accountedAssets() external view returns (uint256);
    function modelId() external view returns (uint256);
}
