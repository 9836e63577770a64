// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {CoTrainingShares} from "../../contracts/CoTrainingShares.sol";
import {ModelRegistry} from "../../contracts/ModelRegistry.sol";
import {ModelVault} from "../../contracts/ModelVault.sol";
import {ModelVaultFactory} from "../../contracts/ModelVaultFactory.sol";
import {ICoTrainingShares} from "../../contracts/interfaces/ICoTrainingShares.sol";
import {IModelRegistry} from "../../contracts/interfaces/IModelRegistry.sol";
import {IModelVaultFactory} from "../../contracts/interfaces/IModelVaultFactory.sol";
import {ProtocolFixture} from "../utils/ProtocolFixture.sol";
import {PausableUpgradeable} from "@openzeppelin/contracts-upgradeable/utils/PausableUpgradeable.sol";
import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

contract ModelRegistryTest is ProtocolFixture {
    address internal alice = makeAddr("alice");
    address internal bob = makeAddr("bob");
    bytes32 internal constant ADAPTER = keccak256("adapter v1");

    function _freshRegistry() internal returns (ModelRegistry r) {
        r = ModelRegistry(
            address(new ERC1967Proxy(address(new ModelRegistry()), abi.encodeCall(ModelRegistry.initialize, (admin))))
        );
    }

    function _modulesFor(ModelRegistry r) internal returns (CoTrainingShares s, ModelVaultFactory f) {
        s = CoTrainingShares(
            address(
                new ERC1967Proxy(
                    address(new CoTrainingShares()),
                    abi.encodeCall(CoTrainingShares.initialize, (admin, IERC20(address(usd)), address(r)))
                )
            )
        );
        f = ModelVaultFactory(
            address(
                new ERC1967Proxy(
                    address(new ModelVaultFactory()),
                    abi.encodeCall(
                        ModelVaultFactory.initialize,
                        (admin, address(usd), address(r), address(vaultImplementation), UNLOCK_PERIOD)
                    )
                )
            )
        );
    }

    // ------------------------------------------------------------------ initialize and modules

    function test_Initialize_GrantsAdminRoles() public view {
        assertTrue(registry.hasRole(registry.DEFAULT_ADMIN_ROLE(), admin));
        assertTrue(registry.hasRole(registry.UPGRADER_ROLE(), admin));
        assertTrue(registry.hasRole(registry.PAUSER_ROLE(), admin));
        assertFalse(registry.hasRole(registry.SETTLEMENT_ROLE(), admin));
        assertEq(registry.UPGRADER_ROLE(), keccak256("UPGRADER_ROLE"));
        assertEq(registry.PAUSER_ROLE(), keccak256("PAUSER_ROLE"));
        assertEq(registry.SETTLEMENT_ROLE(), keccak256("SETTLEMENT_ROLE"));
    }

    function test_Initialize_RevertWhen_AdminIsZero() public {
        address impl = address(new ModelRegistry());
        vm.expectRevert(IModelRegistry.ModelRegistry_ZeroAddress.selector);
        new ERC1967Proxy(impl, abi.encodeCall(ModelRegistry.initialize, (address(0))));
    }

    function test_SetModules_WiresSharesAndFactory() public {
        ModelRegistry r = _freshRegistry();
        (CoTrainingShares s, ModelVaultFactory f) = _modulesFor(r);
        vm.expectEmit(address(r));
        emit IModelRegistry.ModulesSet(address(s), address(f));
        vm.prank(admin);
        r.setModules(s, f);
        assertEq(address(r.shares()), address(s));
        assertEq(address(r.vaultFactory()), address(f));
    }

    function test_SetModules_RevertWhen_CallerIsNotAdmin() public {
        ModelRegistry r = _freshRegistry();
        (CoTrainingShares s, ModelVaultFactory f) = _modulesFor(r);
        vm.expectRevert(_missingRole(stranger, r.DEFAULT_ADMIN_ROLE()));
        vm.prank(stranger);
        r.setModules(s, f);
    }

    function test_SetModules_RevertWhen_AlreadySet() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IModelRegistry.ModelRegistry_ModulesAlreadySet.selector, address(shares), address(factory)
            )
        );
        vm.prank(admin);
        registry.setModules(shares, factory);
    }

    function test_SetModules_RevertWhen_ModulesPointElsewhere() public {
        ModelRegistry r = _freshRegistry();
        // `shares` and `factory` of the fixture name the fixture's registry, not `r`.
        vm.expectRevert(
            abi.encodeWithSelector(
                IModelRegistry.ModelRegistry_ModulesMismatch.selector, address(shares), address(factory)
            )
        );
        vm.prank(admin);
        r.setModules(shares, factory);
    }

    function test_SetModules_RevertWhen_ZeroAddress() public {
        ModelRegistry r = _freshRegistry();
        vm.expectRevert(IModelRegistry.ModelRegistry_ZeroAddress.selector);
        vm.prank(admin);
        r.setModules(ICoTrainingShares(address(0)), factory);
    }

    // ------------------------------------------------------------------ pause

    function test_Pause_RevertWhen_CallerIsNotPauser() public {
        vm.expectRevert(_missingRole(stranger, registry.PAUSER_ROLE()));
        vm.prank(stranger);
        registry.pause();
    }

    function test_Unpause_RevertWhen_CallerIsNotPauser() public {
        vm.prank(admin);
        registry.pause();
        vm.expectRevert(_missingRole(stranger, registry.PAUSER_ROLE()));
        vm.prank(stranger);
        registry.unpause();
    }

    function test_Pause_StopsRegistrationsUntilUnpaused() public {
        vm.prank(admin);
        registry.pause();
        vm.expectRevert(PausableUpgradeable.EnforcedPause.selector);
        registry.registerBaseModel(keccak256("other base"), "");
        vm.expectRevert(PausableUpgradeable.EnforcedPause.selector);
        _registerSolo(alice, ADAPTER, 1);
        vm.prank(admin);
        registry.unpause();
        assertEq(_registerSolo(alice, ADAPTER, 1), 1);
    }

    // ------------------------------------------------------------------ base models

    function test_RegisterBaseModel_StoresEntryWithSequentialId() public {
        bytes32 hash = keccak256("second base");
        vm.expectEmit(address(registry));
        emit IModelRegistry.BaseModelRegistered(2, alice, hash, "ipfs://second");
        vm.prank(alice);
        uint256 id = registry.registerBaseModel(hash, "ipfs://second");
        assertEq(id, 2);
        assertEq(registry.baseModelCount(), 2);
        IModelRegistry.BaseModel memory b = registry.getBaseModel(id);
        assertEq(b.owner, alice);
        assertEq(b.contentHash, hash);
        assertEq(b.metadataURI, "ipfs://second");
        assertEq(b.registeredAt, block.timestamp);
        assertEq(registry.baseModelIdByContentHash(hash), 2);
        assertEq(registry.getBaseModel(baseModelId).contentHash, BASE_HASH);
    }

    function test_RegisterBaseModel_RevertWhen_HashAlreadyRegistered() public {
        vm.expectRevert(
            abi.encodeWithSelector(IModelRegistry.ModelRegistry_BaseModelAlreadyRegistered.selector, BASE_HASH, 1)
        );
        registry.registerBaseModel(BASE_HASH, "");
    }

    function test_RegisterBaseModel_RevertWhen_HashIsZero() public {
        vm.expectRevert(IModelRegistry.ModelRegistry_ZeroHash.selector);
        registry.registerBaseModel(bytes32(0), "");
    }

    function test_GetBaseModel_RevertWhen_Unknown() public {
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelRegistry_UnknownBaseModel.selector, 0));
        registry.getBaseModel(0);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelRegistry_UnknownBaseModel.selector, 2));
        registry.getBaseModel(2);
    }

    // ------------------------------------------------------------------ adapters

    function test_RegisterModel_StoresProvenanceTermsAndCreatesVault() public {
        Signer memory carol = _signer("carol");
        Signer[] memory signers = new Signer[](2);
        signers[0] = carol;
        signers[1] = Signer(alice, 0);
        uint256[] memory units = new uint256[](2);
        units[0] = 30;
        units[1] = 70;
        ICoTrainingShares.ContributorConsent[] memory list = _consents(alice, ADAPTER, signers, units);
        IModelRegistry.ModelParams memory p = _params(ADAPTER, carol.addr);
        address predicted = factory.predictVault(1);

        vm.expectEmit(address(registry));
        emit IModelRegistry.ModelRegistered(1, alice, baseModelId, ADAPTER, carol.addr, 0, predicted);
        vm.expectEmit(address(registry));
        emit IModelRegistry.DatasetsRecorded(1, p.datasetHashes);
        vm.expectEmit(address(registry));
        emit IModelRegistry.PricePerCallSet(1, 1000);
        vm.expectEmit(address(registry));
        emit IModelRegistry.VaultShareSet(1, 2000);
        vm.expectEmit(address(registry));
        emit IModelRegistry.MetadataURISet(1, "ipfs://adapter");
        vm.prank(alice);
        (uint256 modelId, address vault) = registry.registerModel(p, list);

        assertEq(modelId, 1);
        assertEq(vault, predicted);
        assertEq(registry.modelCount(), 1);
        IModelRegistry.Model memory m = registry.getModel(modelId);
        assertEq(m.owner, alice);
        assertEq(m.trainer, carol.addr);
        assertEq(m.adapterHash, ADAPTER);
        assertEq(m.baseModelId, baseModelId);
        assertEq(m.parentModelId, 0);
        assertEq(m.pricePerCall, 1000);
        assertEq(m.vaultShareBps, 2000);
        assertEq(uint8(m.status), uint8(IModelRegistry.ModelStatus.Active));
        assertEq(m.vault, vault);
        assertEq(m.registeredAt, block.timestamp);
        assertEq(m.totalCalls, 0);
        assertEq(m.totalRevenue, 0);
        assertEq(m.metadataURI, "ipfs://adapter");
        assertEq(m.datasetHashes.length, 2);
        assertEq(m.datasetHashes[1], keccak256("dataset b"));

        assertEq(registry.modelIdByAdapterHash(ADAPTER), 1);
        assertEq(registry.ownerOf(1), alice);
        assertEq(registry.modelsOf(alice).length, 1);
        assertEq(registry.modelsOf(alice)[0], 1);
        assertEq(factory.vaultOf(1), vault);
        assertEq(ModelVault(vault).modelId(), 1);
        assertEq(shares.totalUnits(1), 100);
        assertEq(shares.unitsOf(1, carol.addr), 30);
        assertEq(shares.unitsOf(1, alice), 70);
    }

    function test_RegisterModel_AssignsSequentialIds() public {
        assertEq(_registerSolo(alice, keccak256("a"), 1), 1);
        assertEq(_registerSolo(bob, keccak256("b"), 1), 2);
        assertEq(_registerSolo(alice, keccak256("c"), 1), 3);
        uint256[] memory owned = registry.modelsOf(alice);
        assertEq(owned.length, 2);
        assertEq(owned[0], 1);
        assertEq(owned[1], 3);
    }

    function test_RegisterModel_RecordsNewVersionOfOwnModel() public {
        uint256 v1 = _registerSolo(alice, ADAPTER, 1);
        IModelRegistry.ModelParams memory p = _params(keccak256("adapter v2"), alice);
        p.parentModelId = v1;
        ICoTrainingShares.ContributorConsent[] memory list = new ICoTrainingShares.ContributorConsent[](1);
        list[0].account = alice;
        list[0].units = 5;
        vm.prank(alice);
        (uint256 v2,) = registry.registerModel(p, list);
        assertEq(registry.getModel(v2).parentModelId, v1);
        uint256[] memory versions = registry.versionsOf(v1);
        assertEq(versions.length, 1);
        assertEq(versions[0], v2);
        assertEq(registry.versionsOf(v2).length, 0);
    }

    function test_RegisterModel_RevertWhen_ParentOwnedBySomeoneElse() public {
        uint256 v1 = _registerSolo(alice, ADAPTER, 1);
        IModelRegistry.ModelParams memory p = _params(keccak256("adapter v2"), bob);
        p.parentModelId = v1;
        ICoTrainingShares.ContributorConsent[] memory list = new ICoTrainingShares.ContributorConsent[](1);
        list[0].account = bob;
        list[0].units = 5;
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelRegistry_NotParentOwner.selector, v1, bob));
        vm.prank(bob);
        registry.registerModel(p, list);
    }

    function test_RegisterModel_RevertWhen_ParentUnknown() public {
        IModelRegistry.ModelParams memory p = _params(ADAPTER, alice);
        p.parentModelId = 7;
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelRegistry_UnknownModel.selector, 7));
        vm.prank(alice);
        registry.registerModel(p, _soloList(alice));
    }

    function test_RegisterModel_RevertWhen_AdapterAlreadyRegistered() public {
        _registerSolo(alice, ADAPTER, 1);
        vm.expectRevert(
            abi.encodeWithSelector(IModelRegistry.ModelRegistry_AdapterAlreadyRegistered.selector, ADAPTER, 1)
        );
        vm.prank(bob);
        registry.registerModel(_params(ADAPTER, bob), _soloList(bob));
    }

    function test_RegisterModel_RevertWhen_AdapterHashIsZero() public {
        vm.expectRevert(IModelRegistry.ModelRegistry_ZeroHash.selector);
        vm.prank(alice);
        registry.registerModel(_params(bytes32(0), alice), _soloList(alice));
    }

    function test_RegisterModel_RevertWhen_BaseModelUnknown() public {
        IModelRegistry.ModelParams memory p = _params(ADAPTER, alice);
        p.baseModelId = 0;
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelRegistry_UnknownBaseModel.selector, 0));
        vm.prank(alice);
        registry.registerModel(p, _soloList(alice));
        p.baseModelId = 2;
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelRegistry_UnknownBaseModel.selector, 2));
        vm.prank(alice);
        registry.registerModel(p, _soloList(alice));
    }

    function test_RegisterModel_RevertWhen_VaultShareAboveMax() public {
        IModelRegistry.ModelParams memory p = _params(ADAPTER, alice);
        p.vaultShareBps = 10_001;
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelRegistry_VaultShareTooHigh.selector, 10_001));
        vm.prank(alice);
        registry.registerModel(p, _soloList(alice));
    }

    function test_RegisterModel_RevertWhen_TrainerIsZero() public {
        vm.expectRevert(IModelRegistry.ModelRegistry_ZeroAddress.selector);
        vm.prank(alice);
        registry.registerModel(_params(ADAPTER, address(0)), _soloList(alice));
    }

    function test_RegisterModel_RevertWhen_TrainerNeitherRegistrantNorContributor() public {
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelRegistry_TrainerNotConsenting.selector, bob));
        vm.prank(alice);
        registry.registerModel(_params(ADAPTER, bob), _soloList(alice));
    }

    function test_RegisterModel_RevertWhen_ModulesNotSet() public {
        ModelRegistry r = _freshRegistry();
        vm.prank(alice);
        r.registerBaseModel(BASE_HASH, "");
        vm.expectRevert(IModelRegistry.ModelRegistry_ModulesNotSet.selector);
        vm.prank(alice);
        r.registerModel(_params(ADAPTER, alice), _soloList(alice));
    }

    function test_RegisterModel_RevertWhen_NoContributors() public {
        vm.expectRevert(ICoTrainingShares.Shares_NoContributors.selector);
        vm.prank(alice);
        registry.registerModel(_params(ADAPTER, alice), new ICoTrainingShares.ContributorConsent[](0));
    }

    function _soloList(address who) internal pure returns (ICoTrainingShares.ContributorConsent[] memory list) {
        list = new ICoTrainingShares.ContributorConsent[](1);
        list[0].account = who;
        list[0].units = 1;
    }

    // ------------------------------------------------------------------ owner functions

    function test_SetPricePerCall_UpdatesPrice() public {
        uint256 id = _registerSolo(alice, ADAPTER, 1);
        vm.expectEmit(address(registry));
        emit IModelRegistry.PricePerCallSet(id, 42);
        vm.prank(alice);
        registry.setPricePerCall(id, 42);
        assertEq(registry.getModelTerms(id).pricePerCall, 42);
    }

    function test_SetPricePerCall_RevertWhen_CallerIsNotOwner() public {
        uint256 id = _registerSolo(alice, ADAPTER, 1);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelRegistry_NotModelOwner.selector, id, bob));
        vm.prank(bob);
        registry.setPricePerCall(id, 42);
    }

    function test_SetPricePerCall_RevertWhen_ModelUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelRegistry_UnknownModel.selector, 9));
        vm.prank(alice);
        registry.setPricePerCall(9, 42);
    }

    function test_SetVaultShareBps_UpdatesShare() public {
        uint256 id = _registerSolo(alice, ADAPTER, 1);
        vm.expectEmit(address(registry));
        emit IModelRegistry.VaultShareSet(id, 10_000);
        vm.prank(alice);
        registry.setVaultShareBps(id, 10_000);
        assertEq(registry.getModelTerms(id).vaultShareBps, 10_000);
    }

    function test_SetVaultShareBps_RevertWhen_CallerIsNotOwner() public {
        uint256 id = _registerSolo(alice, ADAPTER, 1);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelRegistry_NotModelOwner.selector, id, bob));
        vm.prank(bob);
        registry.setVaultShareBps(id, 1);
    }

    function test_SetVaultShareBps_RevertWhen_AboveMax() public {
        uint256 id = _registerSolo(alice, ADAPTER, 1);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelRegistry_VaultShareTooHigh.selector, 10_001));
        vm.prank(alice);
        registry.setVaultShareBps(id, 10_001);
    }

    function test_SetMetadataURI_UpdatesURI() public {
        uint256 id = _registerSolo(alice, ADAPTER, 1);
        vm.expectEmit(address(registry));
        emit IModelRegistry.MetadataURISet(id, "ipfs://new");
        vm.prank(alice);
        registry.setMetadataURI(id, "ipfs://new");
        assertEq(registry.getModel(id).metadataURI, "ipfs://new");
    }

    function test_SetMetadataURI_RevertWhen_CallerIsNotOwner() public {
        uint256 id = _registerSolo(alice, ADAPTER, 1);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelRegistry_NotModelOwner.selector, id, bob));
        vm.prank(bob);
        registry.setMetadataURI(id, "x");
    }

    function test_SetStatus_PausesResumesAndRetires() public {
        uint256 id = _registerSolo(alice, ADAPTER, 1);
        vm.startPrank(alice);
        vm.expectEmit(address(registry));
        emit IModelRegistry.ModelStatusChanged(id, IModelRegistry.ModelStatus.Active, IModelRegistry.ModelStatus.Paused);
        registry.setStatus(id, IModelRegistry.ModelStatus.Paused);
        assertEq(uint8(registry.getModelTerms(id).status), uint8(IModelRegistry.ModelStatus.Paused));
        registry.setStatus(id, IModelRegistry.ModelStatus.Active);
        registry.setStatus(id, IModelRegistry.ModelStatus.Retired);
        assertEq(uint8(registry.getModelTerms(id).status), uint8(IModelRegistry.ModelStatus.Retired));
        vm.stopPrank();
    }

    function test_SetStatus_RevertWhen_Retired() public {
        uint256 id = _registerSolo(alice, ADAPTER, 1);
        vm.startPrank(alice);
        registry.setStatus(id, IModelRegistry.ModelStatus.Retired);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelRegistry_ModelRetired.selector, id));
        registry.setStatus(id, IModelRegistry.ModelStatus.Active);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelRegistry_ModelRetired.selector, id));
        registry.setPricePerCall(id, 1);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelRegistry_ModelRetired.selector, id));
        registry.setVaultShareBps(id, 1);
        // Metadata stays editable: a retired model may point at its successor.
        registry.setMetadataURI(id, "ipfs://see-v2");
        vm.stopPrank();
    }

    function test_SetStatus_RevertWhen_NoneOrUnchanged() public {
        uint256 id = _registerSolo(alice, ADAPTER, 1);
        vm.startPrank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(
                IModelRegistry.ModelRegistry_InvalidStatus.selector, id, IModelRegistry.ModelStatus.None
            )
        );
        registry.setStatus(id, IModelRegistry.ModelStatus.None);
        vm.expectRevert(
            abi.encodeWithSelector(
                IModelRegistry.ModelRegistry_InvalidStatus.selector, id, IModelRegistry.ModelStatus.Active
            )
        );
        registry.setStatus(id, IModelRegistry.ModelStatus.Active);
        vm.stopPrank();
    }

    function test_SetStatus_RevertWhen_CallerIsNotOwner() public {
        uint256 id = _registerSolo(alice, ADAPTER, 1);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelRegistry_NotModelOwner.selector, id, bob));
        vm.prank(bob);
        registry.setStatus(id, IModelRegistry.ModelStatus.Paused);
    }

    function test_TransferModelOwnership_MovesModelBetweenOwners() public {
        uint256 id = _registerSolo(alice, ADAPTER, 1);
        vm.expectEmit(address(registry));
        emit IModelRegistry.ModelOwnershipTransferred(id, alice, bob);
        vm.prank(alice);
        registry.transferModelOwnership(id, bob);
        assertEq(registry.ownerOf(id), bob);
        assertEq(registry.modelsOf(alice).length, 0);
        assertEq(registry.modelsOf(bob)[0], id);
        // The new owner manages the model; the old one no longer can.
        vm.prank(bob);
        registry.setPricePerCall(id, 5);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelRegistry_NotModelOwner.selector, id, alice));
        vm.prank(alice);
        registry.setPricePerCall(id, 6);
        // Share units are untouched.
        assertEq(shares.unitsOf(id, alice), 1);
    }

    function test_TransferModelOwnership_RevertWhen_CallerIsNotOwner() public {
        uint256 id = _registerSolo(alice, ADAPTER, 1);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelRegistry_NotModelOwner.selector, id, bob));
        vm.prank(bob);
        registry.transferModelOwnership(id, bob);
    }

    function test_TransferModelOwnership_RevertWhen_NewOwnerIsZero() public {
        uint256 id = _registerSolo(alice, ADAPTER, 1);
        vm.expectRevert(IModelRegistry.ModelRegistry_ZeroAddress.selector);
        vm.prank(alice);
        registry.transferModelOwnership(id, address(0));
    }

    // ------------------------------------------------------------------ usage

    function test_RecordUsage_RaisesCountersWithCumulativeEvent() public {
        uint256 id = _registerSolo(alice, ADAPTER, 1);
        vm.startPrank(settlement);
        vm.expectEmit(address(registry));
        emit IModelRegistry.UsageRecorded(id, 10, 10_000, 10, 10_000);
        registry.recordUsage(id, 10, 10_000);
        vm.expectEmit(address(registry));
        emit IModelRegistry.UsageRecorded(id, 5, 4000, 15, 14_000);
        (address vault, uint16 vaultShareBps) = registry.recordUsage(id, 5, 4000);
        vm.stopPrank();
        // It returns the split terms, so that Settlement makes one registry call per model.
        assertEq(vault, registry.getModelTerms(id).vault);
        assertEq(vaultShareBps, registry.getModelTerms(id).vaultShareBps);
        IModelRegistry.Model memory m = registry.getModel(id);
        assertEq(m.totalCalls, 15);
        assertEq(m.totalRevenue, 14_000);
    }

    function test_RecordUsage_WorksWhilePausedAndRetired() public {
        uint256 id = _registerSolo(alice, ADAPTER, 1);
        vm.prank(alice);
        registry.setStatus(id, IModelRegistry.ModelStatus.Retired);
        vm.prank(admin);
        registry.pause();
        vm.prank(settlement);
        registry.recordUsage(id, 1, 1);
        assertEq(registry.getModel(id).totalCalls, 1);
    }

    function test_RecordUsage_RevertWhen_CallerIsNotSettlement() public {
        uint256 id = _registerSolo(alice, ADAPTER, 1);
        vm.expectRevert(_missingRole(alice, registry.SETTLEMENT_ROLE()));
        vm.prank(alice);
        registry.recordUsage(id, 1, 1);
        vm.expectRevert(_missingRole(admin, registry.SETTLEMENT_ROLE()));
        vm.prank(admin);
        registry.recordUsage(id, 1, 1);
    }

    function test_RecordUsage_RevertWhen_ModelUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelRegistry_UnknownModel.selector, 1));
        vm.prank(settlement);
        registry.recordUsage(1, 1, 1);
    }

    function testFuzz_RecordUsage_AccumulatesExactly(uint128[4] memory calls, uint128[4] memory revenue) public {
        uint256 id = _registerSolo(alice, ADAPTER, 1);
        uint256 sumCalls;
        uint256 sumRevenue;
        for (uint256 i; i < 4; ++i) {
            vm.prank(settlement);
            registry.recordUsage(id, calls[i], revenue[i]);
            sumCalls += calls[i];
            sumRevenue += revenue[i];
        }
        IModelRegistry.Model memory m = registry.getModel(id);
        assertEq(m.totalCalls, sumCalls);
        assertEq(m.totalRevenue, sumRevenue);
    }

    // ------------------------------------------------------------------ views

    function test_GetModelTerms_ReturnsWhatSettlementNeeds() public {
        uint256 id = _registerSolo(alice, ADAPTER, 1);
        IModelRegistry.ModelTerms memory t = registry.getModelTerms(id);
        assertEq(t.owner, alice);
        assertEq(t.vault, factory.vaultOf(id));
        assertEq(t.adapterHash, ADAPTER);
        assertEq(t.baseModelId, baseModelId);
        assertEq(t.pricePerCall, 1000);
        assertEq(t.vaultShareBps, 2000);
        assertEq(uint8(t.status), uint8(IModelRegistry.ModelStatus.Active));
    }

    function test_Views_RevertWhen_ModelUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelRegistry_UnknownModel.selector, 0));
        registry.getModel(0);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelRegistry_UnknownModel.selector, 1));
        registry.getModelTerms(1);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelRegistry_UnknownModel.selector, 1));
        registry.ownerOf(1);
        assertEq(registry.modelIdByAdapterHash(ADAPTER), 0);
        assertEq(registry.baseModelIdByContentHash(keccak256("nothing")), 0);
    }

    function test_VaultFactory_IsTheWiredOne() public view {
        assertEq(address(registry.vaultFactory()), address(factory));
        assertEq(IModelVaultFactory(address(registry.vaultFactory())).registry(), address(registry));
    }
}
