// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {RunnerRegistry} from "../../contracts/RunnerRegistry.sol";
import {IRunnerRegistry} from "../../contracts/interfaces/IRunnerRegistry.sol";
import {PaymentsFixture} from "../integration/PaymentsFixture.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {PausableUpgradeable} from "@openzeppelin/contracts-upgradeable/utils/PausableUpgradeable.sol";
import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

contract RunnerRegistryTest is PaymentsFixture {
    address internal runner = makeAddr("runner");
    address internal reporter = makeAddr("reporter");
    address internal slasher = makeAddr("slasher");
    string internal constant ENDPOINT = "https://runner.example/v1";

    function setUp() public override {
        super.setUp();
        bytes32 role = runners.SLASHER_ROLE();
        vm.prank(admin);
        runners.grantRole(role, slasher);
    }

    function _fund(address who, uint256 amount) internal {
        usd.mint(who, amount);
        vm.prank(who);
        usd.approve(address(runners), amount);
    }

    // ------------------------------------------------------------------ initialize

    function test_Initialize_SetsRolesAndParameters() public view {
        assertTrue(runners.hasRole(runners.DEFAULT_ADMIN_ROLE(), admin));
        assertTrue(runners.hasRole(runners.UPGRADER_ROLE(), admin));
        assertTrue(runners.hasRole(runners.PAUSER_ROLE(), admin));
        assertTrue(runners.hasRole(runners.FEE_SETTER_ROLE(), admin));
        assertTrue(runners.hasRole(runners.SLASHER_ROLE(), address(settler)));
        assertEq(runners.FEE_SETTER_ROLE(), keccak256("FEE_SETTER_ROLE"));
        assertEq(runners.SLASHER_ROLE(), keccak256("SLASHER_ROLE"));
        assertEq(address(runners.asset()), address(usd));
        assertEq(runners.maxFeeBps(), MAX_RUNNER_FEE_BPS);
        assertEq(runners.minBond(), MIN_BOND);
        assertEq(runners.unbondingDelay(), UNBONDING_DELAY);
        assertEq(runners.slashBps(), SLASH_BPS);
        assertEq(runners.reporterRewardBps(), REPORTER_BPS);
    }

    function test_Initialize_RevertWhen_CalledOnImplementation() public {
        RunnerRegistry impl = new RunnerRegistry();
        vm.expectRevert(Initializable.InvalidInitialization.selector);
        impl.initialize(admin, IERC20(address(usd)), 0, 0, 1 days, 1, 0);
    }

    function test_Initialize_RevertWhen_ParametersInvalid() public {
        address impl = address(new RunnerRegistry());
        vm.expectRevert(IRunnerRegistry.RunnerRegistry_ZeroAddress.selector);
        new ERC1967Proxy(impl, abi.encodeCall(RunnerRegistry.initialize, (address(0), usd_(), 0, 0, 1 days, 1, 0)));
        vm.expectRevert(abi.encodeWithSelector(IRunnerRegistry.RunnerRegistry_MaxFeeTooHigh.selector, 5001, 5000));
        new ERC1967Proxy(impl, abi.encodeCall(RunnerRegistry.initialize, (admin, usd_(), 5001, 0, 1 days, 1, 0)));
        vm.expectRevert(abi.encodeWithSelector(IRunnerRegistry.RunnerRegistry_UnbondingDelayOutOfRange.selector, 1));
        new ERC1967Proxy(impl, abi.encodeCall(RunnerRegistry.initialize, (admin, usd_(), 0, 0, 1, 1, 0)));
        vm.expectRevert(abi.encodeWithSelector(IRunnerRegistry.RunnerRegistry_SlashParamsOutOfRange.selector, 0, 0));
        new ERC1967Proxy(impl, abi.encodeCall(RunnerRegistry.initialize, (admin, usd_(), 0, 0, 1 days, 0, 0)));
    }

    function usd_() internal view returns (IERC20) {
        return IERC20(address(usd));
    }

    // ------------------------------------------------------------------ register

    function test_Register_StoresRunnerAndStakesBond() public {
        _fund(runner, MIN_BOND);
        vm.expectEmit(address(runners));
        emit IRunnerRegistry.RunnerRegistered(runner, ENDPOINT, 1200);
        vm.expectEmit(address(runners));
        emit IRunnerRegistry.BondStaked(runner, runner, MIN_BOND, MIN_BOND, MIN_BOND);
        vm.prank(runner);
        runners.register(ENDPOINT, 1200, MIN_BOND);

        IRunnerRegistry.Runner memory r = runners.getRunner(runner);
        assertTrue(r.registered);
        assertEq(r.feeBps, 1200);
        assertEq(r.bond, MIN_BOND);
        assertEq(r.unbonding, 0);
        assertEq(r.registeredAt, block.timestamp);
        assertEq(r.endpoint, ENDPOINT);
        assertTrue(runners.isRegistered(runner));
        assertTrue(runners.isActive(runner));
        (bool active, uint16 fee) = runners.runnerTerms(runner);
        assertTrue(active);
        assertEq(fee, 1200);
        assertEq(runners.runnerCount(), 1);
        assertEq(runners.runnerAt(0), runner);
        assertEq(runners.totalStaked(), MIN_BOND);
        assertEq(usd.balanceOf(address(runners)), MIN_BOND);
    }

    function test_Register_WithoutBondIsRegisteredButInactive() public {
        vm.prank(runner);
        runners.register(ENDPOINT, 0, 0);
        assertTrue(runners.isRegistered(runner));
        assertFalse(runners.isActive(runner));
        _fund(runner, MIN_BOND - 1);
        vm.prank(runner);
        runners.stake(runner, MIN_BOND - 1);
        assertFalse(runners.isActive(runner));
    }

    function test_Register_RevertWhen_AlreadyRegistered() public {
        vm.startPrank(runner);
        runners.register(ENDPOINT, 0, 0);
        vm.expectRevert(abi.encodeWithSelector(IRunnerRegistry.RunnerRegistry_AlreadyRegistered.selector, runner));
        runners.register(ENDPOINT, 0, 0);
        vm.stopPrank();
    }

    function test_Register_RevertWhen_FeeAboveCap() public {
        vm.expectRevert(
            abi.encodeWithSelector(IRunnerRegistry.RunnerRegistry_FeeTooHigh.selector, 3001, MAX_RUNNER_FEE_BPS)
        );
        vm.prank(runner);
        runners.register(ENDPOINT, 3001, 0);
    }

    function test_Register_RevertWhen_EndpointEmptyOrTooLong() public {
        vm.startPrank(runner);
        vm.expectRevert(abi.encodeWithSelector(IRunnerRegistry.RunnerRegistry_InvalidEndpoint.selector, 0));
        runners.register("", 0, 0);
        string memory long = string(new bytes(513));
        vm.expectRevert(abi.encodeWithSelector(IRunnerRegistry.RunnerRegistry_InvalidEndpoint.selector, 513));
        runners.register(long, 0, 0);
        vm.stopPrank();
    }

    function test_Register_RevertWhen_Paused() public {
        vm.prank(admin);
        runners.pause();
        vm.expectRevert(PausableUpgradeable.EnforcedPause.selector);
        vm.prank(runner);
        runners.register(ENDPOINT, 0, 0);
    }

    function test_SetEndpointAndFee_ByRunnerOnly() public {
        vm.prank(runner);
        runners.register(ENDPOINT, 100, 0);
        vm.startPrank(runner);
        vm.expectEmit(address(runners));
        emit IRunnerRegistry.EndpointSet(runner, "https://new.example");
        runners.setEndpoint("https://new.example");
        vm.expectEmit(address(runners));
        emit IRunnerRegistry.RunnerFeeSet(runner, 250);
        runners.setFeeBps(250);
        vm.expectRevert(
            abi.encodeWithSelector(IRunnerRegistry.RunnerRegistry_FeeTooHigh.selector, 3001, MAX_RUNNER_FEE_BPS)
        );
        runners.setFeeBps(3001);
        vm.stopPrank();
        assertEq(runners.getRunner(runner).endpoint, "https://new.example");
        assertEq(runners.getRunner(runner).feeBps, 250);

        vm.startPrank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IRunnerRegistry.RunnerRegistry_NotRegistered.selector, stranger));
        runners.setEndpoint("https://x");
        vm.expectRevert(abi.encodeWithSelector(IRunnerRegistry.RunnerRegistry_NotRegistered.selector, stranger));
        runners.setFeeBps(1);
        vm.stopPrank();
    }

    // ------------------------------------------------------------------ stake

    function test_Stake_AnyoneForARegisteredRunner() public {
        vm.prank(runner);
        runners.register(ENDPOINT, 0, 0);
        _fund(stranger, 500e6);
        vm.expectEmit(address(runners));
        emit IRunnerRegistry.BondStaked(runner, stranger, 500e6, 500e6, 500e6);
        vm.prank(stranger);
        runners.stake(runner, 500e6);
        assertEq(runners.getRunner(runner).bond, 500e6);
    }

    function test_Stake_RevertWhen_NotRegisteredZeroOrPaused() public {
        vm.expectRevert(abi.encodeWithSelector(IRunnerRegistry.RunnerRegistry_NotRegistered.selector, runner));
        runners.stake(runner, 1);
        vm.prank(runner);
        runners.register(ENDPOINT, 0, 0);
        vm.expectRevert(IRunnerRegistry.RunnerRegistry_ZeroAmount.selector);
        runners.stake(runner, 0);
        vm.prank(admin);
        runners.pause();
        vm.expectRevert(PausableUpgradeable.EnforcedPause.selector);
        runners.stake(runner, 1);
    }

    function test_Stake_RevertWhen_StakeAbove128Bits() public {
        vm.prank(runner);
        runners.register(ENDPOINT, 0, 0);
        uint256 amount = uint256(type(uint128).max) + 1;
        vm.expectRevert(abi.encodeWithSelector(IRunnerRegistry.RunnerRegistry_StakeTooLarge.selector, amount));
        runners.stake(runner, amount);
    }

    function test_StakeWithPermit_FundsWithoutApproval() public {
        Signer memory op = _signer("operator");
        vm.prank(op.addr);
        runners.register(ENDPOINT, 0, 0);
        usd.mint(op.addr, MIN_BOND);
        uint256 deadline = block.timestamp + 1 hours;
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"),
                op.addr,
                address(runners),
                MIN_BOND,
                usd.nonces(op.addr),
                deadline
            )
        );
        (uint8 v, bytes32 r, bytes32 s) =
            vm.sign(op.key, keccak256(abi.encodePacked(hex"1901", usd.DOMAIN_SEPARATOR(), structHash)));
        vm.prank(op.addr);
        runners.stakeWithPermit(op.addr, MIN_BOND, deadline, v, r, s);
        assertTrue(runners.isActive(op.addr));
    }

    // ------------------------------------------------------------------ unbonding

    function test_Unbond_PaysAfterDelayOnly() public {
        _registerRunner(runner, 0, MIN_BOND * 2);
        vm.expectEmit(address(runners));
        emit IRunnerRegistry.UnbondRequested(runner, MIN_BOND, MIN_BOND, MIN_BOND, block.timestamp + UNBONDING_DELAY);
        vm.prank(runner);
        runners.requestUnbond(MIN_BOND);
        assertEq(runners.getRunner(runner).bond, MIN_BOND);
        assertEq(runners.getRunner(runner).unbonding, MIN_BOND);
        assertEq(runners.totalStaked(), MIN_BOND * 2);

        uint256 availableAt = block.timestamp + UNBONDING_DELAY;
        vm.warp(availableAt - 1);
        vm.expectRevert(
            abi.encodeWithSelector(IRunnerRegistry.RunnerRegistry_UnbondingNotReady.selector, runner, availableAt)
        );
        vm.prank(runner);
        runners.withdrawUnbonded();

        vm.warp(availableAt);
        vm.expectEmit(address(runners));
        emit IRunnerRegistry.UnbondWithdrawn(runner, MIN_BOND, MIN_BOND);
        vm.prank(runner);
        assertEq(runners.withdrawUnbonded(), MIN_BOND);
        assertEq(usd.balanceOf(runner), MIN_BOND);
        assertEq(runners.totalStaked(), MIN_BOND);
        assertEq(runners.getRunner(runner).unbonding, 0);

        vm.expectRevert(abi.encodeWithSelector(IRunnerRegistry.RunnerRegistry_NothingUnbonding.selector, runner));
        vm.prank(runner);
        runners.withdrawUnbonded();
    }

    function test_Unbond_MakesRunnerInactiveBelowMinBond() public {
        _registerRunner(runner, 0, MIN_BOND);
        vm.prank(runner);
        runners.requestUnbond(1);
        assertFalse(runners.isActive(runner));
        (bool active,) = runners.runnerTerms(runner);
        assertFalse(active);
    }

    function test_Unbond_NewRequestRestartsDelay() public {
        _registerRunner(runner, 0, MIN_BOND);
        vm.prank(runner);
        runners.requestUnbond(100);
        vm.warp(block.timestamp + UNBONDING_DELAY - 1);
        vm.prank(runner);
        runners.requestUnbond(100);
        assertEq(runners.getRunner(runner).unbondingAvailableAt, block.timestamp + UNBONDING_DELAY);
        assertEq(runners.getRunner(runner).unbonding, 200);
    }

    function test_Unbond_RevertWhen_MoreThanBondOrZeroOrNotRegistered() public {
        _registerRunner(runner, 0, MIN_BOND);
        vm.startPrank(runner);
        vm.expectRevert(
            abi.encodeWithSelector(
                IRunnerRegistry.RunnerRegistry_InsufficientBond.selector, runner, MIN_BOND, MIN_BOND + 1
            )
        );
        runners.requestUnbond(MIN_BOND + 1);
        vm.expectRevert(IRunnerRegistry.RunnerRegistry_ZeroAmount.selector);
        runners.requestUnbond(0);
        vm.stopPrank();
        vm.expectRevert(abi.encodeWithSelector(IRunnerRegistry.RunnerRegistry_NotRegistered.selector, stranger));
        vm.prank(stranger);
        runners.requestUnbond(1);
    }

    function test_Unbond_WorksWhilePaused() public {
        _registerRunner(runner, 0, MIN_BOND);
        vm.prank(admin);
        runners.pause();
        vm.prank(runner);
        runners.requestUnbond(MIN_BOND);
        vm.warp(block.timestamp + UNBONDING_DELAY);
        vm.prank(runner);
        assertEq(runners.withdrawUnbonded(), MIN_BOND);
    }

    // ------------------------------------------------------------------ slash

    function test_Slash_TakesShareOfStakeAndPaysReporterAndTreasury() public {
        _registerRunner(runner, 0, 2000e6);
        bytes32 evidence = keccak256("request");
        uint256 amount = 2000e6 * uint256(SLASH_BPS) / 10_000;
        uint256 toReporter = amount * uint256(REPORTER_BPS) / 10_000;
        vm.expectEmit(address(runners));
        emit IRunnerRegistry.RunnerSlashed(
            runner, evidence, reporter, amount, toReporter, amount - toReporter, 2000e6 - amount, 0, amount
        );
        vm.prank(slasher);
        assertEq(runners.slash(runner, evidence, reporter, treasury), amount);
        assertEq(usd.balanceOf(reporter), toReporter);
        assertEq(usd.balanceOf(treasury), amount - toReporter);
        assertEq(runners.getRunner(runner).bond, 2000e6 - amount);
        assertEq(runners.getRunner(runner).totalSlashed, amount);
        assertEq(runners.totalStaked(), 2000e6 - amount);
        assertEq(usd.balanceOf(address(runners)), 2000e6 - amount);
        assertTrue(runners.isEvidenceUsed(runner, evidence));
    }

    function test_Slash_ReachesUnbondingStake() public {
        _registerRunner(runner, 0, 1000e6);
        vm.prank(runner);
        runners.requestUnbond(800e6); // bond 200, unbonding 800: slashing 50% = 500 takes 200 + 300
        vm.prank(slasher);
        uint256 amount = runners.slash(runner, keccak256("r"), reporter, treasury);
        assertEq(amount, 500e6);
        assertEq(runners.getRunner(runner).bond, 0);
        assertEq(runners.getRunner(runner).unbonding, 500e6);
        vm.warp(block.timestamp + UNBONDING_DELAY);
        vm.prank(runner);
        assertEq(runners.withdrawUnbonded(), 500e6);
        assertEq(usd.balanceOf(address(runners)), 0);
    }

    function test_Slash_RevertWhen_EvidenceReused() public {
        _registerRunner(runner, 0, 1000e6);
        vm.startPrank(slasher);
        runners.slash(runner, keccak256("r"), reporter, treasury);
        vm.expectRevert(
            abi.encodeWithSelector(IRunnerRegistry.RunnerRegistry_EvidenceUsed.selector, runner, keccak256("r"))
        );
        runners.slash(runner, keccak256("r"), reporter, treasury);
        vm.stopPrank();
    }

    function test_Slash_RevertWhen_NothingToSlashOrNotRegistered() public {
        vm.prank(runner);
        runners.register(ENDPOINT, 0, 0);
        vm.startPrank(slasher);
        vm.expectRevert(abi.encodeWithSelector(IRunnerRegistry.RunnerRegistry_NothingToSlash.selector, runner));
        runners.slash(runner, keccak256("r"), reporter, treasury);
        vm.expectRevert(abi.encodeWithSelector(IRunnerRegistry.RunnerRegistry_NotRegistered.selector, stranger));
        runners.slash(stranger, keccak256("r"), reporter, treasury);
        vm.expectRevert(IRunnerRegistry.RunnerRegistry_ZeroAddress.selector);
        runners.slash(runner, keccak256("r"), address(0), treasury);
        vm.stopPrank();
    }

    function test_Slash_RevertWhen_CallerLacksSlasherRole() public {
        _registerRunner(runner, 0, 1000e6);
        vm.expectRevert(_missingRole(stranger, runners.SLASHER_ROLE()));
        vm.prank(stranger);
        runners.slash(runner, keccak256("r"), stranger, stranger);
    }

    // ------------------------------------------------------------------ governance

    function test_SetMaxFeeBps_CapsRunnerFeesAtSettlement() public {
        _registerRunner(runner, 3000, MIN_BOND);
        vm.expectRevert(_missingRole(stranger, runners.FEE_SETTER_ROLE()));
        vm.prank(stranger);
        runners.setMaxFeeBps(100);
        vm.expectEmit(address(runners));
        emit IRunnerRegistry.MaxFeeSet(MAX_RUNNER_FEE_BPS, 100);
        vm.prank(admin);
        runners.setMaxFeeBps(100);
        (, uint16 fee) = runners.runnerTerms(runner);
        assertEq(fee, 100);
        assertEq(runners.getRunner(runner).feeBps, 3000);
        vm.expectRevert(abi.encodeWithSelector(IRunnerRegistry.RunnerRegistry_MaxFeeTooHigh.selector, 5001, 5000));
        vm.prank(admin);
        runners.setMaxFeeBps(5001);
    }

    function test_SetMinBond_OnlyAdmin() public {
        _registerRunner(runner, 0, MIN_BOND);
        vm.expectRevert(_missingRole(stranger, runners.DEFAULT_ADMIN_ROLE()));
        vm.prank(stranger);
        runners.setMinBond(1);
        vm.expectEmit(address(runners));
        emit IRunnerRegistry.MinBondSet(MIN_BOND, MIN_BOND + 1);
        vm.prank(admin);
        runners.setMinBond(MIN_BOND + 1);
        assertFalse(runners.isActive(runner));
    }

    function test_SetUnbondingDelay_OnlyAdminWithinRange() public {
        vm.expectRevert(_missingRole(stranger, runners.DEFAULT_ADMIN_ROLE()));
        vm.prank(stranger);
        runners.setUnbondingDelay(1 days);
        vm.startPrank(admin);
        vm.expectRevert(
            abi.encodeWithSelector(IRunnerRegistry.RunnerRegistry_UnbondingDelayOutOfRange.selector, 91 days)
        );
        runners.setUnbondingDelay(91 days);
        runners.setUnbondingDelay(1 days);
        vm.stopPrank();
        assertEq(runners.unbondingDelay(), 1 days);
    }

    function test_SetSlashParams_OnlyAdminWithinRange() public {
        vm.expectRevert(_missingRole(stranger, runners.DEFAULT_ADMIN_ROLE()));
        vm.prank(stranger);
        runners.setSlashParams(1, 1);
        vm.startPrank(admin);
        vm.expectRevert(
            abi.encodeWithSelector(IRunnerRegistry.RunnerRegistry_SlashParamsOutOfRange.selector, 10_001, 0)
        );
        runners.setSlashParams(10_001, 0);
        vm.expectRevert(
            abi.encodeWithSelector(IRunnerRegistry.RunnerRegistry_SlashParamsOutOfRange.selector, 1, 10_001)
        );
        runners.setSlashParams(1, 10_001);
        vm.expectEmit(address(runners));
        emit IRunnerRegistry.SlashParamsSet(10_000, 0);
        runners.setSlashParams(10_000, 0);
        vm.stopPrank();
        assertEq(runners.slashBps(), 10_000);
        assertEq(runners.reporterRewardBps(), 0);
    }

    function test_Pause_OnlyPauser() public {
        vm.expectRevert(_missingRole(stranger, runners.PAUSER_ROLE()));
        vm.prank(stranger);
        runners.pause();
        vm.prank(admin);
        runners.pause();
        vm.expectRevert(_missingRole(stranger, runners.PAUSER_ROLE()));
        vm.prank(stranger);
        runners.unpause();
        vm.prank(admin);
        runners.unpause();
        assertFalse(runners.paused());
    }

    function test_Upgrade_OnlyUpgraderKeepsState() public {
        _registerRunner(runner, 100, MIN_BOND);
        address impl = address(new RunnerRegistry());
        vm.expectRevert(_missingRole(stranger, runners.UPGRADER_ROLE()));
        vm.prank(stranger);
        runners.upgradeToAndCall(impl, "");
        vm.prank(admin);
        runners.upgradeToAndCall(impl, "");
        assertEq(runners.getRunner(runner).bond, MIN_BOND);
        assertEq(runners.maxFeeBps(), MAX_RUNNER_FEE_BPS);
    }
}
