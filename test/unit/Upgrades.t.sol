// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {CoTrainingShares} from "../../contracts/CoTrainingShares.sol";
import {ModelRegistry} from "../../contracts/ModelRegistry.sol";
import {ModelVault} from "../../contracts/ModelVault.sol";
import {ModelVaultFactory} from "../../contracts/ModelVaultFactory.sol";
import {IModelRegistry} from "../../contracts/interfaces/IModelRegistry.sol";
import {CoTrainingSharesV2} from "../mocks/CoTrainingSharesV2.sol";
import {ModelRegistryV2} from "../mocks/ModelRegistryV2.sol";
import {ModelVaultFactoryV2} from "../mocks/ModelVaultFactoryV2.sol";
import {ProtocolFixture} from "../utils/ProtocolFixture.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {ERC1967Utils} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Utils.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @notice Implementations cannot be initialized, only UPGRADER_ROLE upgrades, and state survives.
contract UpgradesTest is ProtocolFixture {
    Signer internal alice;
    Signer internal carol;
    uint256 internal modelId;
    ModelVault internal vault;

    function setUp() public override {
        super.setUp();
        alice = _signer("alice");
        carol = _signer("carol");
        Signer[] memory signers = new Signer[](2);
        signers[0] = alice;
        signers[1] = carol;
        uint256[] memory units = new uint256[](2);
        units[0] = 3;
        units[1] = 1;
        address v;
        (modelId, v) = _register(alice.addr, keccak256("adapter"), signers, units);
        vault = ModelVault(v);
        _creditHolders(modelId, 400);
        _deposit(vault, carol.addr, 1000);
        _payVault(vault, 700);
        vm.prank(settlement);
        registry.recordUsage(modelId, 4, 1100);
    }

    function _implementation(address proxy) internal view returns (address) {
        return address(uint160(uint256(vm.load(proxy, ERC1967Utils.IMPLEMENTATION_SLOT))));
    }

    // ------------------------------------------------------------------ initializers

    function test_Initialize_RevertWhen_CalledOnImplementations() public {
        ModelRegistry r = ModelRegistry(_implementation(address(registry)));
        vm.expectRevert(Initializable.InvalidInitialization.selector);
        r.initialize(stranger);

        CoTrainingShares s = CoTrainingShares(_implementation(address(shares)));
        vm.expectRevert(Initializable.InvalidInitialization.selector);
        s.initialize(stranger, IERC20(address(usd)), address(registry));

        ModelVaultFactory f = ModelVaultFactory(_implementation(address(factory)));
        vm.expectRevert(Initializable.InvalidInitialization.selector);
        f.initialize(stranger, address(usd), address(registry), address(vaultImplementation), 1 days);

        vm.expectRevert(Initializable.InvalidInitialization.selector);
        vaultImplementation.initialize(address(usd), address(factory), 1, "x", "x");
    }

    function test_Initialize_RevertWhen_CalledAgainOnProxies() public {
        vm.expectRevert(Initializable.InvalidInitialization.selector);
        registry.initialize(stranger);
        vm.expectRevert(Initializable.InvalidInitialization.selector);
        shares.initialize(stranger, IERC20(address(usd)), address(registry));
        vm.expectRevert(Initializable.InvalidInitialization.selector);
        factory.initialize(stranger, address(usd), address(registry), address(vaultImplementation), 1 days);
    }

    // ------------------------------------------------------------------ authorisation

    function test_UpgradeRegistry_RevertWhen_CallerIsNotUpgrader() public {
        address v2 = address(new ModelRegistryV2());
        vm.expectRevert(_missingRole(stranger, registry.UPGRADER_ROLE()));
        vm.prank(stranger);
        registry.upgradeToAndCall(v2, "");
        // Not even settlement or a pauser.
        vm.expectRevert(_missingRole(settlement, registry.UPGRADER_ROLE()));
        vm.prank(settlement);
        registry.upgradeToAndCall(v2, "");
    }

    function test_UpgradeShares_RevertWhen_CallerIsNotUpgrader() public {
        address v2 = address(new CoTrainingSharesV2());
        vm.expectRevert(_missingRole(stranger, shares.UPGRADER_ROLE()));
        vm.prank(stranger);
        shares.upgradeToAndCall(v2, "");
    }

    function test_UpgradeFactory_RevertWhen_CallerIsNotUpgrader() public {
        address v2 = address(new ModelVaultFactoryV2());
        vm.expectRevert(_missingRole(stranger, factory.UPGRADER_ROLE()));
        vm.prank(stranger);
        factory.upgradeToAndCall(v2, "");
    }

    function test_Upgrade_ByGrantedUpgraderWhoIsNotAdmin() public {
        address upgrader = makeAddr("upgrader");
        bytes32 role = registry.UPGRADER_ROLE();
        vm.prank(admin);
        registry.grantRole(role, upgrader);
        address v2 = address(new ModelRegistryV2());
        vm.prank(upgrader);
        registry.upgradeToAndCall(v2, "");
        assertEq(_implementation(address(registry)), v2);
    }

    // ------------------------------------------------------------------ state survives

    function test_UpgradeRegistry_KeepsState() public {
        IModelRegistry.Model memory before = registry.getModel(modelId);
        address v2 = address(new ModelRegistryV2());
        vm.prank(admin);
        registry.upgradeToAndCall(v2, "");
        assertEq(ModelRegistryV2(address(registry)).version(), "2");
        IModelRegistry.Model memory afterwards = registry.getModel(modelId);
        assertEq(abi.encode(afterwards), abi.encode(before));
        assertEq(registry.modelCount(), 1);
        assertEq(registry.baseModelCount(), 1);
        assertEq(registry.modelIdByAdapterHash(keccak256("adapter")), modelId);
        assertEq(registry.modelsOf(alice.addr)[0], modelId);
        assertEq(address(registry.shares()), address(shares));
        assertTrue(registry.hasRole(registry.SETTLEMENT_ROLE(), settlement));
        // Still works: usage goes on from the old counters.
        vm.prank(settlement);
        registry.recordUsage(modelId, 1, 100);
        assertEq(registry.getModel(modelId).totalCalls, 5);
    }

    function test_UpgradeShares_KeepsUnitsRewardsAndNonces() public {
        uint256 aliceClaimable = shares.claimable(modelId, alice.addr);
        assertEq(aliceClaimable, 300);
        address v2 = address(new CoTrainingSharesV2());
        vm.prank(admin);
        shares.upgradeToAndCall(v2, "");
        assertEq(CoTrainingSharesV2(address(shares)).version(), "2");
        assertEq(shares.unitsOf(modelId, alice.addr), 3);
        assertEq(shares.unitsOf(modelId, carol.addr), 1);
        assertEq(shares.totalUnits(modelId), 4);
        assertEq(shares.claimable(modelId, alice.addr), aliceClaimable);
        assertEq(shares.totalOwed(), 400);
        assertTrue(shares.isNonceUsed(carol.addr, 1));
        (, string memory name,,, address verifying,,) = shares.eip712Domain();
        assertEq(name, "OpenLoRA CoTrainingShares");
        assertEq(verifying, address(shares));
        vm.prank(carol.addr);
        assertEq(shares.claim(modelId), 100);
    }

    function test_UpgradeFactory_KeepsVaultsAndSettings() public {
        address beacon = factory.beacon();
        address v2 = address(new ModelVaultFactoryV2());
        vm.prank(admin);
        factory.upgradeToAndCall(v2, "");
        assertEq(ModelVaultFactoryV2(address(factory)).version(), "2");
        assertEq(factory.vaultOf(modelId), address(vault));
        assertEq(factory.beacon(), beacon);
        assertEq(factory.profitUnlockPeriod(), UNLOCK_PERIOD);
        assertEq(factory.predictVault(modelId), address(vault));
        // The vault still recognises settlement through the upgraded factory.
        _payVault(vault, 1);
        assertEq(vault.totalRevenue(), 701);
    }
}
