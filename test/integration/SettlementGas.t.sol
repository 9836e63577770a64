// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {ModelVault} from "../../contracts/ModelVault.sol";
import {Batch, ModelTotal, SignedVoucher} from "../../contracts/types/PaymentTypes.sol";
import {PaymentsFixture} from "./PaymentsFixture.sol";
import {Vm, console} from "forge-std/Test.sol";
import {VmSafe} from "forge-std/Vm.sol";

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

    /// @dev What a flush costs (logs `FLUSH gas models name`): one model, then ten, after a settle.
    function test_Bench_Flush() public {
        settler.flushMany(models);
        vm.prank(runner);
        settler.settle(_lanes(_range(channelIds[1], 1), MODELS, 0, 1));
        uint256[] memory one = new uint256[](1);
        one[0] = models[0];
        settler.flushMany(one);
        _logFlush(1, "flush, 1 model");
        vm.prank(runner);
        settler.settle(_lanes(_range(channelIds[1], 1), MODELS, 1, 1));
        settler.flushMany(models);
        _logFlush(MODELS, "flush, 10 models");
        assertEq(registry.getModel(models[1]).totalCalls, 3);
    }

    function _logFlush(uint256 n, string memory name) internal view {
        console.log(string.concat("FLUSH ", vm.toString(vm.lastCallGas().gasTotalUsed), " ", vm.toString(n), " ", name));
    }

    /// @dev Where the gas of a settle goes: the accounts, storage slots and logs the transaction
    ///      touches, counted from forge's state-diff recording (each first touch is cold in a real
    ///      transaction). Logs one `BREAKDOWN` line per scenario; gas.ts prices them (EIP-2929).
    function test_Bench_Breakdown() public {
        _breakdown("1 lane, new lane", _lanes(_range(channelIds[1], 1), 1, 0, 1));
        _breakdown("1 lane, settled before", _lanes(_range(channelIds[1], 1), 1, 1, 1));
        _breakdown("50 lanes over 10 models, new lanes", _lanes(_range(channelIds[3], CHANNELS), MODELS, 0, 100));
        _breakdown("50 lanes over 10 models, settled before", _lanes(_range(channelIds[3], CHANNELS), MODELS, 100, 100));
    }

    struct Counts {
        uint256 calls; // CALL and STATICCALL into other contracts
        uint256 proxyHops; // DELEGATECALL: a proxy (ERC-1967 or beacon) entering its implementation
        uint256 implementations; // distinct implementations entered: the cold proxy hops
        uint256 coldAccounts; // distinct accounts touched, besides the runner, Settlement's proxy and precompiles
        uint256 coldSlots; // distinct storage slots read or written
        uint256 changedSlots; // distinct slots whose value the transaction changed
        uint256 newSlots; // of those, slots that were zero before
        uint256 logs;
        uint256 logTopics;
        uint256 logBytes;
    }

    function _breakdown(string memory name, Batch memory batch) internal {
        vm.recordLogs();
        vm.startStateDiffRecording();
        vm.prank(runner);
        settler.settle(batch);
        Vm.AccountAccess[] memory accesses = vm.stopAndReturnStateDiff();
        Vm.Log[] memory logs = vm.getRecordedLogs();
        Counts memory c = _count(accesses);
        _logSlotsByContract(name, accesses);
        c.logs = logs.length;
        for (uint256 i; i < logs.length; ++i) {
            c.logTopics += logs[i].topics.length;
            c.logBytes += logs[i].data.length;
        }
        console.log(
            string.concat(
                "BREAKDOWN ",
                string.concat(
                    vm.toString(c.calls), " ", vm.toString(c.proxyHops), " ", vm.toString(c.implementations), " "
                ),
                string.concat(vm.toString(c.coldAccounts), " "),
                string.concat(
                    vm.toString(c.coldSlots), " ", vm.toString(c.changedSlots), " ", vm.toString(c.newSlots), " "
                ),
                string.concat(vm.toString(c.logs), " ", vm.toString(c.logTopics), " ", vm.toString(c.logBytes), " "),
                name
            )
        );
    }

    /// @dev `SLOTS <contract> <distinct slots> <changed slots> <scenario>` for each protocol contract.
    function _logSlotsByContract(string memory name, Vm.AccountAccess[] memory accesses) internal view {
        address vault = registry.getModelTerms(models[0]).vault;
        address[9] memory targets = [
            address(settler),
            address(channels),
            address(runners),
            address(registry),
            vault,
            factory.beacon(),
            address(factory),
            address(shares),
            address(usd)
        ];
        string[9] memory labels = [
            "Settlement",
            "PaymentChannels",
            "RunnerRegistry",
            "ModelRegistry",
            "ModelVault",
            "UpgradeableBeacon",
            "ModelVaultFactory",
            "CoTrainingShares",
            "TestUSD"
        ];
        for (uint256 t; t < targets.length; ++t) {
            (uint256 distinct, uint256 changed) = _slotsOf(accesses, targets[t]);
            console.log(
                string.concat("SLOTS ", labels[t], " ", vm.toString(distinct), " ", vm.toString(changed), " ", name)
            );
        }
    }

    /// @dev Distinct storage slots of `target` the accesses touch, and how many of them changed.
    function _slotsOf(Vm.AccountAccess[] memory accesses, address target)
        internal
        pure
        returns (uint256 distinct, uint256 changed)
    {
        uint256 total;
        for (uint256 i; i < accesses.length; ++i) {
            total += accesses[i].storageAccesses.length;
        }
        bytes32[] memory slots = new bytes32[](total);
        bytes32[] memory first = new bytes32[](total);
        bytes32[] memory last = new bytes32[](total);
        for (uint256 i; i < accesses.length; ++i) {
            for (uint256 j; j < accesses[i].storageAccesses.length; ++j) {
                Vm.StorageAccess memory st = accesses[i].storageAccesses[j];
                if (st.account != target) continue;
                uint256 k;
                while (k < distinct && slots[k] != st.slot) ++k;
                if (k == distinct) {
                    (slots[k], first[k], last[k]) = (st.slot, st.previousValue, st.previousValue);
                    distinct++;
                }
                if (st.isWrite) last[k] = st.newValue;
            }
        }
        for (uint256 k; k < distinct; ++k) {
            if (last[k] != first[k]) changed++;
        }
    }

    function _count(Vm.AccountAccess[] memory accesses) internal view returns (Counts memory c) {
        address[] memory accounts = new address[](accesses.length);
        address[] memory implementations = new address[](accesses.length);
        uint256 n;
        uint256 total;
        for (uint256 i; i < accesses.length; ++i) {
            total += accesses[i].storageAccesses.length;
        }
        bytes32[] memory slots = new bytes32[](total);
        bytes32[] memory first = new bytes32[](total);
        bytes32[] memory last = new bytes32[](total);
        for (uint256 i; i < accesses.length; ++i) {
            Vm.AccountAccess memory a = accesses[i];
            if (a.kind == VmSafe.AccountAccessKind.DelegateCall) {
                c.proxyHops++;
                c.implementations = _addAccount(implementations, c.implementations, a.account);
            } else if (a.kind == VmSafe.AccountAccessKind.Call || a.kind == VmSafe.AccountAccessKind.StaticCall) {
                c.calls++;
            }
            if (a.kind != VmSafe.AccountAccessKind.Resume && a.account != address(settler) && uint160(a.account) > 0xff)
            {
                n = _addAccount(accounts, n, a.account);
            }
            for (uint256 j; j < a.storageAccesses.length; ++j) {
                Vm.StorageAccess memory s = a.storageAccesses[j];
                bytes32 key = keccak256(abi.encode(s.account, s.slot));
                uint256 k;
                while (k < c.coldSlots && slots[k] != key) ++k;
                if (k == c.coldSlots) {
                    slots[k] = key;
                    first[k] = s.previousValue;
                    last[k] = s.previousValue;
                    c.coldSlots++;
                }
                if (s.isWrite) last[k] = s.newValue;
            }
        }
        c.coldAccounts = n;
        for (uint256 k; k < c.coldSlots; ++k) {
            if (last[k] != first[k]) {
                c.changedSlots++;
                if (first[k] == bytes32(0)) c.newSlots++;
            }
        }
    }

    function _addAccount(address[] memory accounts, uint256 n, address account) internal pure returns (uint256) {
        for (uint256 i; i < n; ++i) {
            if (accounts[i] == account) return n;
        }
        accounts[n] = account;
        return n + 1;
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
        (uint256 before,,) = settler.pendingOf(models[0]);
        vm.prank(runner);
        settler.settle(batch);
        Vm.Gas memory gas = vm.lastCallGas();
        // The scenario really settled: every lane of model 0 added its calls (pending until a flush).
        (uint256 pendingCalls,,) = settler.pendingOf(models[0]);
        assertEq(pendingCalls, before + lanes / modelCount * callsPerLane);
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
