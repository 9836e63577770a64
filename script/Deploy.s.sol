// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {CoTrainingShares} from "../contracts/CoTrainingShares.sol";
import {ModelRegistry} from "../contracts/ModelRegistry.sol";
import {ModelVault} from "../contracts/ModelVault.sol";
import {ModelVaultFactory} from "../contracts/ModelVaultFactory.sol";
import {PaymentChannels} from "../contracts/PaymentChannels.sol";
import {RunnerRegistry} from "../contracts/RunnerRegistry.sol";
import {Settlement} from "../contracts/Settlement.sol";
import {TestUSD} from "../contracts/devnet/TestUSD.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {Script} from "forge-std/Script.sol";

/// @dev The role getters every OpenLoRA contract exposes.
interface IOpenLoRARoles is IAccessControl {
    function UPGRADER_ROLE() external view returns (bytes32);
    function PAUSER_ROLE() external view returns (bytes32);
}

/// @dev The fee-setter role of RunnerRegistry and Settlement.
interface IFeeSetterRole is IAccessControl {
    function FEE_SETTER_ROLE() external view returns (bytes32);
}

/// @title Deploy
/// @notice Deploys the OpenLoRA contracts behind ERC-1967 proxies (vaults behind the factory's
///         beacon) to any chain and writes their addresses to `deployments/<chainId>.json`, the file
///         the SDK, the runner and the CLI read.
/// @dev Run:
///        forge script script/Deploy.s.sol --rpc-url <URL> --private-key <KEY> --broadcast
///      Environment (all optional):
///        PAYMENT_ASSET          ERC-20 to pay in; when unset, a TestUSD is deployed (owner: deployer)
///        ADMIN                  final holder of every admin, upgrader and pauser role (default: deployer)
///        PROFIT_UNLOCK_PERIOD   seconds over which vault revenue unlocks (default: 7 days)
///        DEPLOYMENT_FILE        where to write the addresses (default: deployments/<chainId>.json)
///        TREASURY               receives protocol fees and slashing proceeds (default: the admin)
///        PROTOCOL_FEE_BPS       protocol fee on settled revenue (default: 500)
///        MAX_RUNNER_FEE_BPS     cap on runners' fees (default: 3000)
///        MIN_RUNNER_BOND        minimum active runner bond, asset units (default: 100e6, 100 tUSD)
///        UNBONDING_DELAY        seconds before unbonded stake can be withdrawn (default: 7 days)
///        SLASH_BPS              share of a runner's stake slashed per equivocation (default: 5000)
///        REPORTER_REWARD_BPS    reporter's share of a slashed amount (default: 5000)
///        CHALLENGE_PERIOD       seconds a runner has to settle after a close request (default: 1 day)
///      Layout for later contracts: add a `_deployX()` step to {run}, its addresses to
///      {Deployment} and {_serialize}, and its role grants to {_wire}; {_handOver} comes last.
contract Deploy is Script {
    struct Deployment {
        uint256 chainId;
        uint256 startBlock;
        address deployer;
        address admin;
        address paymentAsset;
        address modelRegistry;
        address modelRegistryImplementation;
        address coTrainingShares;
        address coTrainingSharesImplementation;
        address modelVaultFactory;
        address modelVaultFactoryImplementation;
        address modelVaultBeacon;
        address modelVaultImplementation;
        uint256 profitUnlockPeriod;
        address runnerRegistry;
        address runnerRegistryImplementation;
        address paymentChannels;
        address paymentChannelsImplementation;
        address settlement;
        address settlementImplementation;
        address treasury;
        uint256 protocolFeeBps;
        uint256 challengePeriod;
    }

    /// @notice Parameters of the payment contracts; {deploy} reads them from the environment.
    struct PaymentsConfig {
        address treasury; // zero: the admin
        uint16 protocolFeeBps;
        uint16 maxRunnerFeeBps;
        uint256 minRunnerBond;
        uint256 unbondingDelay;
        uint16 slashBps;
        uint16 reporterRewardBps;
        uint256 challengePeriod;
    }

    /// @notice What to deploy against; {run} reads it from the environment.
    struct Config {
        address paymentAsset; // zero: deploy a TestUSD
        address admin; // zero: the deployer
        uint256 profitUnlockPeriod;
        string file; // where to write the addresses
    }

    Deployment internal d;
    PaymentsConfig internal pc;

    function paymentsConfigFromEnv() public view returns (PaymentsConfig memory c) {
        c.treasury = vm.envOr("TREASURY", address(0));
        c.protocolFeeBps = SafeCast.toUint16(vm.envOr("PROTOCOL_FEE_BPS", uint256(500)));
        c.maxRunnerFeeBps = SafeCast.toUint16(vm.envOr("MAX_RUNNER_FEE_BPS", uint256(3000)));
        c.minRunnerBond = vm.envOr("MIN_RUNNER_BOND", uint256(100e6));
        c.unbondingDelay = vm.envOr("UNBONDING_DELAY", uint256(7 days));
        c.slashBps = SafeCast.toUint16(vm.envOr("SLASH_BPS", uint256(5000)));
        c.reporterRewardBps = SafeCast.toUint16(vm.envOr("REPORTER_REWARD_BPS", uint256(5000)));
        c.challengePeriod = vm.envOr("CHALLENGE_PERIOD", uint256(1 days));
    }

    function run() public virtual returns (Deployment memory) {
        return deploy(configFromEnv());
    }

    function configFromEnv() public view returns (Config memory c) {
        c.paymentAsset = vm.envOr("PAYMENT_ASSET", address(0));
        c.admin = vm.envOr("ADMIN", address(0));
        c.profitUnlockPeriod = vm.envOr("PROFIT_UNLOCK_PERIOD", uint256(7 days));
        c.file = vm.envOr("DEPLOYMENT_FILE", string.concat("deployments/", vm.toString(block.chainid), ".json"));
    }

    function deploy(Config memory c) public virtual returns (Deployment memory) {
        d.chainId = block.chainid;
        d.startBlock = block.number;
        d.profitUnlockPeriod = c.profitUnlockPeriod;
        pc = paymentsConfigFromEnv();

        vm.startBroadcast();
        (, d.deployer,) = vm.readCallers();
        d.admin = c.admin == address(0) ? d.deployer : c.admin;
        _deployPaymentAsset(c.paymentAsset);
        _deployCore();
        _deployPayments();
        _wire();
        _handOver();
        vm.stopBroadcast();

        _write(c.file);
        return d;
    }

    // ------------------------------------------------------------------ steps

    function _deployPaymentAsset(address given) internal {
        d.paymentAsset = given == address(0) ? address(new TestUSD(d.deployer)) : given;
        require(d.paymentAsset.code.length != 0, "Deploy: PAYMENT_ASSET has no code on this chain");
    }

    /// @dev Registry, shares and vault factory. The deployer holds every role until {_handOver}.
    function _deployCore() internal {
        d.modelRegistryImplementation = address(new ModelRegistry());
        d.modelRegistry = address(
            new ERC1967Proxy(d.modelRegistryImplementation, abi.encodeCall(ModelRegistry.initialize, (d.deployer)))
        );

        d.coTrainingSharesImplementation = address(new CoTrainingShares());
        d.coTrainingShares = address(
            new ERC1967Proxy(
                d.coTrainingSharesImplementation,
                abi.encodeCall(CoTrainingShares.initialize, (d.deployer, IERC20(d.paymentAsset), d.modelRegistry))
            )
        );

        d.modelVaultImplementation = address(new ModelVault());
        d.modelVaultFactoryImplementation = address(new ModelVaultFactory());
        d.modelVaultFactory = address(
            new ERC1967Proxy(
                d.modelVaultFactoryImplementation,
                abi.encodeCall(
                    ModelVaultFactory.initialize,
                    (d.deployer, d.paymentAsset, d.modelRegistry, d.modelVaultImplementation, d.profitUnlockPeriod)
                )
            )
        );
        d.modelVaultBeacon = ModelVaultFactory(d.modelVaultFactory).beacon();
    }

    /// @dev Runner registry, payment channels and Settlement. The deployer holds every role until {_handOver}.
    function _deployPayments() internal {
        d.treasury = pc.treasury == address(0) ? d.admin : pc.treasury;
        d.protocolFeeBps = pc.protocolFeeBps;
        d.challengePeriod = pc.challengePeriod;

        d.runnerRegistryImplementation = address(new RunnerRegistry());
        d.runnerRegistry = address(
            new ERC1967Proxy(
                d.runnerRegistryImplementation,
                abi.encodeCall(
                    RunnerRegistry.initialize,
                    (
                        d.deployer,
                        IERC20(d.paymentAsset),
                        pc.maxRunnerFeeBps,
                        pc.minRunnerBond,
                        pc.unbondingDelay,
                        pc.slashBps,
                        pc.reporterRewardBps
                    )
                )
            )
        );

        d.paymentChannelsImplementation = address(new PaymentChannels());
        d.paymentChannels = address(
            new ERC1967Proxy(
                d.paymentChannelsImplementation,
                abi.encodeCall(
                    PaymentChannels.initialize,
                    (d.deployer, IERC20(d.paymentAsset), RunnerRegistry(d.runnerRegistry), pc.challengePeriod)
                )
            )
        );

        Settlement.Modules memory modules = Settlement.Modules({
            asset: IERC20(d.paymentAsset),
            paymentChannels: PaymentChannels(d.paymentChannels),
            runnerRegistry: RunnerRegistry(d.runnerRegistry),
            modelRegistry: ModelRegistry(d.modelRegistry),
            shares: CoTrainingShares(d.coTrainingShares)
        });
        d.settlementImplementation = address(new Settlement(modules));
        d.settlement = address(
            new ERC1967Proxy(
                d.settlementImplementation,
                abi.encodeCall(Settlement.initialize, (d.deployer, modules, d.treasury, pc.protocolFeeBps))
            )
        );
    }

    function _wire() internal {
        ModelRegistry(d.modelRegistry)
            .setModules(CoTrainingShares(d.coTrainingShares), ModelVaultFactory(d.modelVaultFactory));
        _grantSettlement(d.settlement);
        PaymentChannels channels = PaymentChannels(d.paymentChannels);
        RunnerRegistry runners = RunnerRegistry(d.runnerRegistry);
        channels.grantRole(channels.SETTLEMENT_ROLE(), d.settlement);
        runners.grantRole(runners.SLASHER_ROLE(), d.settlement);
    }

    /// @dev Grants `settlement` the role it needs on the registry (usage), the shares (holder
    ///      revenue) and the vault factory (vault revenue). For the Settlement deployment step.
    function _grantSettlement(address settlement) internal {
        ModelRegistry registry = ModelRegistry(d.modelRegistry);
        CoTrainingShares shares = CoTrainingShares(d.coTrainingShares);
        ModelVaultFactory factory = ModelVaultFactory(d.modelVaultFactory);
        registry.grantRole(registry.SETTLEMENT_ROLE(), settlement);
        shares.grantRole(shares.SETTLEMENT_ROLE(), settlement);
        factory.grantRole(factory.SETTLEMENT_ROLE(), settlement);
        factory.setSettlement(settlement);
        shares.setSettlement(settlement);
    }

    /// @dev Moves every role of the deployer to the final admin when they differ. Extend `targets`
    ///      with every later contract.
    function _handOver() internal {
        if (d.admin == d.deployer) return;
        address[2] memory feeSetters = [d.runnerRegistry, d.settlement];
        for (uint256 i; i < feeSetters.length; ++i) {
            IFeeSetterRole target = IFeeSetterRole(feeSetters[i]);
            target.grantRole(target.FEE_SETTER_ROLE(), d.admin);
            target.renounceRole(target.FEE_SETTER_ROLE(), d.deployer);
        }
        address[6] memory targets = [
            d.modelRegistry, d.coTrainingShares, d.modelVaultFactory, d.runnerRegistry, d.paymentChannels, d.settlement
        ];
        for (uint256 i; i < targets.length; ++i) {
            _handOverRoles(IOpenLoRARoles(targets[i]));
        }
    }

    /// @dev Grants the admin, upgrader and pauser roles of `target` to the admin, then renounces the
    ///      deployer's (admin role last, so the deployer can still grant until then).
    function _handOverRoles(IOpenLoRARoles target) internal {
        bytes32[3] memory roles = [target.UPGRADER_ROLE(), target.PAUSER_ROLE(), bytes32(0)];
        for (uint256 i; i < roles.length; ++i) {
            target.grantRole(roles[i], d.admin);
        }
        for (uint256 i; i < roles.length; ++i) {
            target.renounceRole(roles[i], d.deployer);
        }
    }

    // ------------------------------------------------------------------ output

    function _serialize() internal virtual returns (string memory json) {
        string memory o = "deployment";
        vm.serializeUint(o, "chainId", d.chainId);
        vm.serializeUint(o, "startBlock", d.startBlock);
        vm.serializeAddress(o, "deployer", d.deployer);
        vm.serializeAddress(o, "admin", d.admin);
        vm.serializeAddress(o, "paymentAsset", d.paymentAsset);
        vm.serializeAddress(o, "modelRegistry", d.modelRegistry);
        vm.serializeAddress(o, "modelRegistryImplementation", d.modelRegistryImplementation);
        vm.serializeAddress(o, "coTrainingShares", d.coTrainingShares);
        vm.serializeAddress(o, "coTrainingSharesImplementation", d.coTrainingSharesImplementation);
        vm.serializeAddress(o, "modelVaultFactory", d.modelVaultFactory);
        vm.serializeAddress(o, "modelVaultFactoryImplementation", d.modelVaultFactoryImplementation);
        vm.serializeAddress(o, "modelVaultBeacon", d.modelVaultBeacon);
        vm.serializeAddress(o, "modelVaultImplementation", d.modelVaultImplementation);
        vm.serializeAddress(o, "runnerRegistry", d.runnerRegistry);
        vm.serializeAddress(o, "runnerRegistryImplementation", d.runnerRegistryImplementation);
        vm.serializeAddress(o, "paymentChannels", d.paymentChannels);
        vm.serializeAddress(o, "paymentChannelsImplementation", d.paymentChannelsImplementation);
        vm.serializeAddress(o, "settlement", d.settlement);
        vm.serializeAddress(o, "settlementImplementation", d.settlementImplementation);
        vm.serializeAddress(o, "treasury", d.treasury);
        vm.serializeUint(o, "protocolFeeBps", d.protocolFeeBps);
        vm.serializeUint(o, "challengePeriod", d.challengePeriod);
        json = vm.serializeUint(o, "profitUnlockPeriod", d.profitUnlockPeriod);
    }

    function _write(string memory path) internal {
        vm.createDir("deployments", true);
        vm.writeJson(_serialize(), path);
    }
}
