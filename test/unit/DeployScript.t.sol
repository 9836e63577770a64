// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {CoTrainingShares} from "../../contracts/CoTrainingShares.sol";
import {ModelRegistry} from "../../contracts/ModelRegistry.sol";
import {ModelVaultFactory} from "../../contracts/ModelVaultFactory.sol";
import {TestUSD} from "../../contracts/devnet/TestUSD.sol";
import {Deploy} from "../../script/Deploy.s.sol";
import {Test} from "forge-std/Test.sol";

contract DeployScriptTest is Test {
    function _config(address asset, address admin, string memory file) internal pure returns (Deploy.Config memory) {
        return Deploy.Config({paymentAsset: asset, admin: admin, profitUnlockPeriod: 7 days, file: file});
    }

    function _read(string memory json, string memory key) internal pure returns (address) {
        return vm.parseJsonAddress(json, string.concat(".", key));
    }

    function test_Run_DeploysWiredProxiesAndWritesTheFile() public {
        string memory file = "deployments/test-deploy-1.json";
        Deploy.Deployment memory d = new Deploy().deploy(_config(address(0), address(0), file));
        string memory json = vm.readFile(file);
        vm.removeFile(file);

        assertEq(vm.parseJsonUint(json, ".chainId"), block.chainid);
        assertEq(_read(json, "paymentAsset"), d.paymentAsset);
        assertEq(_read(json, "modelRegistry"), d.modelRegistry);
        assertEq(_read(json, "coTrainingShares"), d.coTrainingShares);
        assertEq(_read(json, "modelVaultFactory"), d.modelVaultFactory);
        assertEq(_read(json, "modelVaultBeacon"), d.modelVaultBeacon);
        assertEq(vm.parseJsonUint(json, ".profitUnlockPeriod"), 7 days);

        assertEq(TestUSD(d.paymentAsset).decimals(), 6);
        ModelRegistry registry = ModelRegistry(d.modelRegistry);
        assertEq(address(registry.shares()), d.coTrainingShares);
        assertEq(address(registry.vaultFactory()), d.modelVaultFactory);
        assertEq(CoTrainingShares(d.coTrainingShares).registry(), d.modelRegistry);
        assertEq(ModelVaultFactory(d.modelVaultFactory).vaultImplementation(), d.modelVaultImplementation);
        assertTrue(registry.hasRole(registry.UPGRADER_ROLE(), d.deployer));
        assertEq(d.admin, d.deployer);

        // It works: a base model and an adapter can be registered.
        uint256 base = registry.registerBaseModel(keccak256("b"), "");
        assertEq(base, 1);
    }

    function test_Run_UsesGivenAssetAndHandsRolesToAdmin() public {
        TestUSD asset = new TestUSD(address(this));
        address finalAdmin = makeAddr("multisig");
        string memory file = "deployments/test-deploy-2.json";
        Deploy.Deployment memory d = new Deploy().deploy(_config(address(asset), finalAdmin, file));
        vm.removeFile(file);

        assertEq(d.paymentAsset, address(asset));
        assertEq(address(CoTrainingShares(d.coTrainingShares).asset()), address(asset));
        address[3] memory targets = [d.modelRegistry, d.coTrainingShares, d.modelVaultFactory];
        for (uint256 i; i < 3; ++i) {
            ModelRegistry t = ModelRegistry(targets[i]);
            assertTrue(t.hasRole(t.DEFAULT_ADMIN_ROLE(), finalAdmin));
            assertTrue(t.hasRole(t.UPGRADER_ROLE(), finalAdmin));
            assertTrue(t.hasRole(t.PAUSER_ROLE(), finalAdmin));
            assertFalse(t.hasRole(t.DEFAULT_ADMIN_ROLE(), d.deployer));
            assertFalse(t.hasRole(t.UPGRADER_ROLE(), d.deployer));
            assertFalse(t.hasRole(t.PAUSER_ROLE(), d.deployer));
        }
    }
}
