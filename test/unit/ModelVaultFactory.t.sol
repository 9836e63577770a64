// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {ModelVault} from "../../contracts/ModelVault.sol";
import {ModelVaultFactory} from "../../contracts/ModelVaultFactory.sol";
import {IModelVaultFactory} from "../../contracts/interfaces/IModelVaultFactory.sol";
import {ModelVaultV2} from "../mocks/ModelVaultV2.sol";
import {ProtocolFixture} from "../utils/ProtocolFixture.sol";
import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";
import {UpgradeableBeacon} from "@openzeppelin/contracts/proxy/beacon/UpgradeableBeacon.sol";

contract ModelVaultFactoryTest is ProtocolFixture {
    address internal alice = makeAddr("alice");

    function test_Initialize_SetsStateAndRoles() public view {
        assertEq(factory.asset(), address(usd));
        assertEq(factory.registry(), address(registry));
        assertEq(factory.vaultImplementation(), address(vaultImplementation));
        assertEq(UpgradeableBeacon(factory.beacon()).owner(), address(factory));
        assertEq(factory.profitUnlockPeriod(), UNLOCK_PERIOD);
        assertTrue(factory.hasRole(factory.DEFAULT_ADMIN_ROLE(), admin));
        assertTrue(factory.hasRole(factory.UPGRADER_ROLE(), admin));
        assertTrue(factory.hasRole(factory.PAUSER_ROLE(), admin));
        assertTrue(factory.hasRole(factory.SETTLEMENT_ROLE(), settlement));
        assertEq(factory.MIN_UNLOCK_PERIOD(), 1 hours);
        assertEq(factory.MAX_UNLOCK_PERIOD(), 365 days);
    }

    function test_Initialize_RevertWhen_ZeroAddressOrPeriodOutOfRange() public {
        address impl = address(new ModelVaultFactory());
        vm.expectRevert(IModelVaultFactory.ModelVaultFactory_ZeroAddress.selector);
        new ERC1967Proxy(
            impl,
            abi.encodeCall(
                ModelVaultFactory.initialize, (admin, address(usd), address(0), address(vaultImplementation), 1 days)
            )
        );
        vm.expectRevert(
            abi.encodeWithSelector(IModelVaultFactory.ModelVaultFactory_UnlockPeriodOutOfRange.selector, 59 minutes)
        );
        new ERC1967Proxy(
            impl,
            abi.encodeCall(
                ModelVaultFactory.initialize,
                (admin, address(usd), address(registry), address(vaultImplementation), 59 minutes)
            )
        );
    }

    function test_CreateVault_AtPredictedAddressWithEvent() public {
        address predicted = factory.predictVault(1);
        assertEq(predicted.code.length, 0);
        vm.expectEmit(address(factory));
        emit IModelVaultFactory.VaultCreated(1, predicted);
        vm.prank(address(registry));
        address vault = factory.createVault(1);
        assertEq(vault, predicted);
        assertEq(factory.vaultOf(1), vault);
        assertEq(ModelVault(vault).modelId(), 1);
        assertEq(ModelVault(vault).asset(), address(usd));
    }

    function test_CreateVault_RevertWhen_CallerIsNotRegistry() public {
        vm.expectRevert(abi.encodeWithSelector(IModelVaultFactory.ModelVaultFactory_CallerNotRegistry.selector, admin));
        vm.prank(admin);
        factory.createVault(1);
    }

    function test_CreateVault_RevertWhen_VaultExists() public {
        vm.startPrank(address(registry));
        address vault = factory.createVault(1);
        vm.expectRevert(abi.encodeWithSelector(IModelVaultFactory.ModelVaultFactory_VaultExists.selector, 1, vault));
        factory.createVault(1);
        vm.stopPrank();
    }

    function test_SetProfitUnlockPeriod_UpdatesWithinRange() public {
        vm.expectEmit(address(factory));
        emit IModelVaultFactory.ProfitUnlockPeriodSet(UNLOCK_PERIOD, 1 hours);
        vm.prank(admin);
        factory.setProfitUnlockPeriod(1 hours);
        assertEq(factory.profitUnlockPeriod(), 1 hours);
        vm.prank(admin);
        factory.setProfitUnlockPeriod(365 days);
        vm.expectRevert(
            abi.encodeWithSelector(IModelVaultFactory.ModelVaultFactory_UnlockPeriodOutOfRange.selector, 366 days)
        );
        vm.prank(admin);
        factory.setProfitUnlockPeriod(366 days);
    }

    function test_RevenueTerms_ReportsSettlementRoleAndCurrentPeriod() public {
        (bool isSettlement, uint256 period) = factory.revenueTerms(settlement);
        assertTrue(isSettlement);
        assertEq(period, UNLOCK_PERIOD);
        vm.prank(admin);
        factory.setProfitUnlockPeriod(2 hours);
        (isSettlement, period) = factory.revenueTerms(stranger);
        assertFalse(isSettlement);
        assertEq(period, 2 hours);
    }

    function test_SetProfitUnlockPeriod_RevertWhen_CallerIsNotAdmin() public {
        vm.expectRevert(_missingRole(stranger, factory.DEFAULT_ADMIN_ROLE()));
        vm.prank(stranger);
        factory.setProfitUnlockPeriod(1 days);
    }

    function test_UpgradeVaults_UpgradesEveryVaultKeepingState() public {
        uint256 id = _registerSolo(alice, keccak256("adapter"), 1);
        ModelVault vault = ModelVault(factory.vaultOf(id));
        uint256 minted = _deposit(vault, alice, 1000);
        _payVault(vault, 70);
        vm.warp(block.timestamp + 1 days);
        uint256 assetsBefore = vault.totalAssets();

        ModelVaultV2 v2 = new ModelVaultV2();
        vm.expectEmit(address(factory));
        emit IModelVaultFactory.VaultImplementationUpgraded(address(v2));
        vm.prank(admin);
        factory.upgradeVaults(address(v2));

        assertEq(factory.vaultImplementation(), address(v2));
        assertEq(ModelVaultV2(address(vault)).version(), "2");
        assertEq(vault.balanceOf(alice), minted);
        assertEq(vault.totalAssets(), assetsBefore);
        assertEq(vault.lockedRevenue(), 70 - (assetsBefore - 1000));
        assertEq(vault.modelId(), id);
        // Vaults created after the upgrade run V2 too.
        uint256 id2 = _registerSolo(alice, keccak256("adapter 2"), 1);
        assertEq(ModelVaultV2(factory.vaultOf(id2)).version(), "2");
    }

    function test_UpgradeVaults_RevertWhen_CallerIsNotUpgrader() public {
        address v2 = address(new ModelVaultV2());
        vm.expectRevert(_missingRole(stranger, factory.UPGRADER_ROLE()));
        vm.prank(stranger);
        factory.upgradeVaults(v2);
    }

    function test_Pause_RevertWhen_CallerIsNotPauser() public {
        vm.expectRevert(_missingRole(stranger, factory.PAUSER_ROLE()));
        vm.prank(stranger);
        factory.pause();
    }

    function test_Unpause_RevertWhen_CallerIsNotPauser() public {
        vm.prank(admin);
        factory.pause();
        assertTrue(factory.paused());
        vm.expectRevert(_missingRole(stranger, factory.PAUSER_ROLE()));
        vm.prank(stranger);
        factory.unpause();
    }
}
