// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {CoTrainingShares} from "../../contracts/CoTrainingShares.sol";
import {ModelRegistry} from "../../contracts/ModelRegistry.sol";
import {ModelVaultFactory} from "../../contracts/ModelVaultFactory.sol";
import {PaymentChannels} from "../../contracts/PaymentChannels.sol";
import {RunnerRegistry} from "../../contracts/RunnerRegistry.sol";
import {Settlement} from "../../contracts/Settlement.sol";
import {TestUSD} from "../../contracts/devnet/TestUSD.sol";
import {ICoTrainingShares} from "../../contracts/interfaces/ICoTrainingShares.sol";
import {IModelRegistry} from "../../contracts/interfaces/IModelRegistry.sol";
import {PaymentMessages} from "../../contracts/libraries/PaymentMessages.sol";
import {Batch, ModelTotal, SignedVoucher} from "../../contracts/types/PaymentTypes.sol";
import {Deploy} from "../../script/Deploy.s.sol";
import {Test} from "forge-std/Test.sol";

/// @notice The deploy script's payment contracts: parameters, wiring, role hand-over, the
///         deployments file, and a first paid call settled on the fresh deployment.
contract PaymentsDeployTest is Test {
    function _deploy(address admin, string memory file) internal returns (Deploy.Deployment memory d) {
        d = new Deploy()
            .deploy(Deploy.Config({paymentAsset: address(0), admin: admin, profitUnlockPeriod: 7 days, file: file}));
    }

    function test_Deploy_WritesPaymentAddressesAndDefaults() public {
        string memory file = "deployments/test-payments-deploy-1.json";
        Deploy.Deployment memory d = _deploy(address(0), file);
        string memory json = vm.readFile(file);
        vm.removeFile(file);

        assertEq(vm.parseJsonAddress(json, ".runnerRegistry"), d.runnerRegistry);
        assertEq(vm.parseJsonAddress(json, ".paymentChannels"), d.paymentChannels);
        assertEq(vm.parseJsonAddress(json, ".settlement"), d.settlement);
        assertEq(vm.parseJsonAddress(json, ".runnerRegistryImplementation"), d.runnerRegistryImplementation);
        assertEq(vm.parseJsonAddress(json, ".paymentChannelsImplementation"), d.paymentChannelsImplementation);
        assertEq(vm.parseJsonAddress(json, ".settlementImplementation"), d.settlementImplementation);
        assertEq(vm.parseJsonAddress(json, ".treasury"), d.admin);
        assertEq(vm.parseJsonUint(json, ".protocolFeeBps"), 500);
        assertEq(vm.parseJsonUint(json, ".challengePeriod"), 1 days);

        RunnerRegistry runners = RunnerRegistry(d.runnerRegistry);
        PaymentChannels channels = PaymentChannels(d.paymentChannels);
        Settlement settler = Settlement(d.settlement);
        assertEq(runners.maxFeeBps(), 3000);
        assertEq(runners.minBond(), 100e6);
        assertEq(runners.unbondingDelay(), 7 days);
        assertEq(runners.slashBps(), 5000);
        assertEq(runners.reporterRewardBps(), 5000);
        assertEq(channels.challengePeriod(), 1 days);
        assertEq(address(channels.runnerRegistry()), d.runnerRegistry);
        assertEq(address(settler.paymentChannels()), d.paymentChannels);
        assertEq(address(settler.runnerRegistry()), d.runnerRegistry);
        assertEq(address(settler.modelRegistry()), d.modelRegistry);
        assertEq(address(settler.shares()), d.coTrainingShares);
        assertEq(address(settler.asset()), d.paymentAsset);
        assertEq(settler.protocolFeeBps(), 500);

        // Settlement holds every role it needs.
        assertTrue(channels.hasRole(channels.SETTLEMENT_ROLE(), d.settlement));
        assertTrue(runners.hasRole(runners.SLASHER_ROLE(), d.settlement));
        ModelRegistry registry = ModelRegistry(d.modelRegistry);
        assertTrue(registry.hasRole(registry.SETTLEMENT_ROLE(), d.settlement));
        CoTrainingShares shares = CoTrainingShares(d.coTrainingShares);
        assertTrue(shares.hasRole(shares.SETTLEMENT_ROLE(), d.settlement));
        ModelVaultFactory factory = ModelVaultFactory(d.modelVaultFactory);
        assertTrue(factory.hasRole(factory.SETTLEMENT_ROLE(), d.settlement));
    }

    function test_Deploy_HandsPaymentRolesToAdmin() public {
        address multisig = makeAddr("multisig");
        string memory file = "deployments/test-payments-deploy-2.json";
        Deploy.Deployment memory d = _deploy(multisig, file);
        vm.removeFile(file);
        address[3] memory targets = [d.runnerRegistry, d.paymentChannels, d.settlement];
        for (uint256 i; i < targets.length; ++i) {
            RunnerRegistry t = RunnerRegistry(targets[i]); // the role getters are the same everywhere
            assertTrue(t.hasRole(t.DEFAULT_ADMIN_ROLE(), multisig));
            assertTrue(t.hasRole(t.UPGRADER_ROLE(), multisig));
            assertTrue(t.hasRole(t.PAUSER_ROLE(), multisig));
            assertFalse(t.hasRole(t.DEFAULT_ADMIN_ROLE(), d.deployer));
            assertFalse(t.hasRole(t.UPGRADER_ROLE(), d.deployer));
            assertFalse(t.hasRole(t.PAUSER_ROLE(), d.deployer));
        }
        RunnerRegistry runners = RunnerRegistry(d.runnerRegistry);
        Settlement settler = Settlement(d.settlement);
        assertTrue(runners.hasRole(runners.FEE_SETTER_ROLE(), multisig));
        assertTrue(settler.hasRole(settler.FEE_SETTER_ROLE(), multisig));
        assertFalse(runners.hasRole(runners.FEE_SETTER_ROLE(), d.deployer));
        assertFalse(settler.hasRole(settler.FEE_SETTER_ROLE(), d.deployer));
        assertEq(settler.treasury(), multisig);
    }

    function test_Deploy_FreshDeploymentSettlesAPaidCall() public {
        string memory file = "deployments/test-payments-deploy-3.json";
        Deploy.Deployment memory d = _deploy(address(0), file);
        vm.removeFile(file);
        address creator = makeAddr("creator");
        (address runner,) = makeAddrAndKey("runner");
        uint256 modelId = _model(d, creator);
        (uint256 channelId, uint256 consumerKey) = _runnerAndChannel(d, runner);

        bytes32 transcript = PaymentMessages.extendTranscript(
            bytes32(0), PaymentMessages.requestHash(channelId, modelId, 1, keccak256("hello"))
        );
        bytes32 digest = PaymentChannels(d.paymentChannels).voucherDigest(channelId, modelId, 1000, 1, transcript);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(consumerKey, digest);
        SignedVoucher[] memory vouchers = new SignedVoucher[](1);
        vouchers[0] = SignedVoucher(channelId, modelId, 1000, 1, transcript, abi.encodePacked(r, s, v));
        ModelTotal[] memory totals = new ModelTotal[](1);
        totals[0] = ModelTotal(modelId, 1, 1000);
        vm.prank(runner);
        Settlement(d.settlement).settle(Batch(keccak256("receipts"), totals, vouchers));
        // Anyone flushes the model: the deploy script wired the vaults and the shares to Settlement.
        assertEq(CoTrainingShares(d.coTrainingShares).settlement(), d.settlement);
        assertEq(ModelVaultFactory(d.modelVaultFactory).settlement(), d.settlement);
        Settlement(d.settlement).flush(modelId);
        assertEq(ModelRegistry(d.modelRegistry).getModel(modelId).totalCalls, 1);
        // 1000 − 5% protocol − 10% runner = 850; the vault has no shares, so its 10% goes to the
        // holders too and the creator gets all 850.
        assertEq(CoTrainingShares(d.coTrainingShares).claimable(modelId, creator), 850);
    }

    function _model(Deploy.Deployment memory d, address creator) internal returns (uint256 modelId) {
        ModelRegistry registry = ModelRegistry(d.modelRegistry);
        uint256 base = registry.registerBaseModel(keccak256("base"), "ipfs://base");
        ICoTrainingShares.ContributorConsent[] memory solo = new ICoTrainingShares.ContributorConsent[](1);
        solo[0] =
            ICoTrainingShares.ContributorConsent({account: creator, units: 1, nonce: 0, deadline: 0, signature: ""});
        vm.prank(creator);
        (modelId,) = registry.registerModel(
            IModelRegistry.ModelParams({
                trainer: creator,
                adapterHash: keccak256("adapter"),
                baseModelId: base,
                parentModelId: 0,
                pricePerCall: 1000,
                vaultShareBps: 1000,
                metadataURI: "ipfs://adapter",
                datasetHashes: new bytes32[](0)
            }),
            solo
        );
    }

    function _runnerAndChannel(Deploy.Deployment memory d, address runner)
        internal
        returns (uint256 channelId, uint256 consumerKey)
    {
        TestUSD usd = TestUSD(d.paymentAsset);
        address consumer;
        (consumer, consumerKey) = makeAddrAndKey("consumer");
        vm.startPrank(d.deployer);
        usd.mint(runner, 100e6);
        usd.mint(consumer, 1e6);
        vm.stopPrank();
        vm.startPrank(runner);
        usd.approve(d.runnerRegistry, 100e6);
        RunnerRegistry(d.runnerRegistry).register("http://127.0.0.1:8787", 1000, 100e6);
        vm.stopPrank();
        vm.startPrank(consumer);
        usd.approve(d.paymentChannels, 1e6);
        channelId = PaymentChannels(d.paymentChannels).open(runner, 1e6, address(0));
        vm.stopPrank();
    }
}
