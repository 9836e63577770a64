// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {ModelVault} from "../../contracts/ModelVault.sol";
import {Batch, ModelTotal, SignedVoucher} from "../../contracts/types/PaymentTypes.sol";
import {PaymentsFixture} from "./PaymentsFixture.sol";
import {Vm, console} from "forge-std/Test.sol";

/// @notice The settlement gas benchmark behind `npm run bench:gas` (offchain/bench/gas.ts), which runs
///         it with `forge test --isolate` so that every call is its own transaction: the figures are
///         whole-transaction gas (21,000 base, calldata, cold storage), as a runner pays it. Each
///         scenario logs one `BENCH` line. Run without --isolate (as in `npm test`) it checks that every
///         scenario settles what it should; the figures are then meaningless.
/// @dev Models and channels are used once before anything is measured, so "new lane" means the first
///      voucher of a lane on models and a runner already earning; "existing lane" a later voucher.
contract SettlementGasBench is PaymentsFixture {
    uint256 internal constant MODELS = 10;
    uint256 internal constant CHANNELS = 5; // 5 channels × 10 models = 50 lanes
    uint256 internal constant PRICE = 1000; // 0.001 tUSD per call

    Signer internal consumer;
    address internal runner = makeAddr("bench runner");
    address internal creator = makeAddr("bench creator");
    uint256[] internal models;
    uint256[] internal channelIds;
    uint256 internal batchNonce;

    function setUp() public override {
        super.setUp();
        consumer = _signer("bench consumer");
        _registerRunner(runner, RUNNER_FEE_BPS, MIN_BOND);
        for (uint256 i; i < MODELS; ++i) {
            models.push(_registerSolo(creator, keccak256(abi.encode("bench adapter", i)), 100));
            // Backed vaults, so that every settlement pays each model's vault (an empty one takes nothing).
            _deposit(ModelVault(registry.getModelTerms(models[i]).vault), creator, 1e6);
        }
        // Channel 0 warms every model up (first revenue of a vault, of the holders, of the runner).
        for (uint256 c; c < CHANNELS + 3; ++c) {
            channelIds.push(_open(consumer.addr, runner, 1_000_000e6, address(0)));
        }
        SignedVoucher[] memory warm = new SignedVoucher[](MODELS);
        ModelTotal[] memory totals = new ModelTotal[](MODELS);
        for (uint256 m; m < MODELS; ++m) {
            warm[m] = _voucher(consumer.key, channelIds[0], models[m], PRICE, 1);
            totals[m] = ModelTotal({modelId: models[m], calls: 1, amount: PRICE});
        }
        vm.prank(runner);
        settler.settle(_batch(keccak256("warm"), totals, warm));
    }

    function test_Bench_Settle() public {
        // One lane, first voucher of the lane, then later vouchers of 1, 100 and 10,000 calls.
        uint256 lane = channelIds[1];
        _measure("1 lane, new lane, 1 call", _lanes(_range(lane, 1), 1, 0, 1), 1, 1, 1);
        _measure("1 lane, 1 call", _lanes(_range(lane, 1), 1, 1, 1), 1, 1, 1);
        _measure("1 lane, 100 calls", _lanes(_range(lane, 1), 1, 2, 100), 1, 1, 100);
        _measure("1 lane, 10000 calls", _lanes(_range(lane, 1), 1, 102, 10_000), 1, 1, 10_000);

        // Ten lanes over ten models, then fifty lanes over ten models, new and existing lanes.
        _measure("10 lanes over 10 models, new lanes", _lanes(_range(channelIds[2], 1), MODELS, 0, 100), 10, 10, 100);
        _measure("10 lanes over 10 models", _lanes(_range(channelIds[2], 1), MODELS, 100, 100), 10, 10, 100);
        _measure(
            "50 lanes over 10 models, new lanes", _lanes(_range(channelIds[3], CHANNELS), MODELS, 0, 100), 50, 10, 100
        );
        _measure("50 lanes over 10 models", _lanes(_range(channelIds[3], CHANNELS), MODELS, 100, 100), 50, 10, 100);
    }

    function _range(uint256 first, uint256 count) internal pure returns (uint256[] memory ids) {
        ids = new uint256[](count);
        for (uint256 i; i < count; ++i) {
            ids[i] = first + i;
        }
    }

    /// @dev A batch paying `calls` more calls in every lane (channel × first `modelCount` models),
    ///      each lane having been paid `paidCalls` before.
    function _lanes(uint256[] memory channelList, uint256 modelCount, uint64 paidCalls, uint64 calls)
        internal
        returns (Batch memory batch)
    {
        uint256 n = channelList.length * modelCount;
        SignedVoucher[] memory vouchers = new SignedVoucher[](n);
        ModelTotal[] memory totals = new ModelTotal[](modelCount);
        uint256 k;
        for (uint256 m; m < modelCount; ++m) {
            totals[m] = ModelTotal({
                modelId: models[m], calls: channelList.length * calls, amount: channelList.length * calls * PRICE
            });
            for (uint256 c; c < channelList.length; ++c) {
                uint64 cumulative = paidCalls + calls;
                vouchers[k++] = _voucher(consumer.key, channelList[c], models[m], cumulative * PRICE, cumulative);
            }
        }
        batch = _batch(keccak256(abi.encode("bench root", ++batchNonce)), totals, vouchers);
    }

    function _measure(string memory name, Batch memory batch, uint256 lanes, uint256 modelCount, uint256 callsPerLane)
        internal
    {
        uint256 before = registry.getModel(models[0]).totalCalls;
        vm.prank(runner);
        settler.settle(batch);
        Vm.Gas memory gas = vm.lastCallGas();
        // The scenario really settled: every lane of model 0 added its calls.
        assertEq(registry.getModel(models[0]).totalCalls, before + lanes / modelCount * callsPerLane);
        console.log(
            string.concat(
                "BENCH ",
                vm.toString(gas.gasTotalUsed),
                " ",
                vm.toString(lanes),
                " ",
                vm.toString(modelCount),
                " ",
                vm.toString(callsPerLane),
                " ",
                name
            )
        );
    }
}
