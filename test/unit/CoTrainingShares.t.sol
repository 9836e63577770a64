// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {CoTrainingShares} from "../../contracts/CoTrainingShares.sol";
import {ICoTrainingShares} from "../../contracts/interfaces/ICoTrainingShares.sol";
import {IModelRegistry} from "../../contracts/interfaces/IModelRegistry.sol";
import {MockERC1271Wallet} from "../mocks/MockERC1271Wallet.sol";
import {ProtocolFixture} from "../utils/ProtocolFixture.sol";
import {PausableUpgradeable} from "@openzeppelin/contracts-upgradeable/utils/PausableUpgradeable.sol";
import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

contract CoTrainingSharesTest is ProtocolFixture {
    bytes32 internal constant ADAPTER = keccak256("adapter");
    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");

    Signer internal alice;
    Signer internal carol;
    Signer internal dave;
    Signer internal erin;

    function setUp() public override {
        super.setUp();
        alice = _signer("alice");
        carol = _signer("carol");
        dave = _signer("dave");
        erin = _signer("erin");
    }

    /// @dev alice (registrant) 50, carol 30, dave 20.
    function _registerThree() internal returns (uint256 modelId) {
        Signer[] memory signers = new Signer[](3);
        signers[0] = alice;
        signers[1] = carol;
        signers[2] = dave;
        uint256[] memory units = new uint256[](3);
        units[0] = 50;
        units[1] = 30;
        units[2] = 20;
        (modelId,) = _register(alice.addr, ADAPTER, signers, units);
    }

    /// @dev Registration by alice with alice (no signature) and one other contributor's consent.
    function _registerWith(ICoTrainingShares.ContributorConsent memory other, uint256 aliceUnits)
        internal
        returns (uint256 modelId)
    {
        ICoTrainingShares.ContributorConsent[] memory list = new ICoTrainingShares.ContributorConsent[](2);
        ICoTrainingShares.ContributorConsent memory mine;
        mine.account = alice.addr;
        mine.units = aliceUnits;
        (list[0], list[1]) = alice.addr < other.account ? (mine, other) : (other, mine);
        vm.prank(alice.addr);
        (modelId,) = registry.registerModel(_params(ADAPTER, alice.addr), list);
    }

    function _expectRegistrationRevert(ICoTrainingShares.ContributorConsent memory other, bytes memory reason)
        internal
    {
        vm.expectRevert(reason);
        this.registerWithExternal(other);
    }

    /// @dev External so that expectRevert applies to the whole registration.
    function registerWithExternal(ICoTrainingShares.ContributorConsent memory other) external {
        _registerWith(other, 10);
    }

    function _digest(uint256 chainId, address verifyingContract, bytes32 structHash) internal pure returns (bytes32) {
        bytes32 domain = keccak256(
            abi.encode(
                DOMAIN_TYPEHASH, keccak256("OpenLoRA CoTrainingShares"), keccak256("1"), chainId, verifyingContract
            )
        );
        return keccak256(abi.encodePacked("\x19\x01", domain, structHash));
    }

    function _registrationStruct(address contributor, uint256 units, uint256 total, uint256 nonce, uint256 deadline)
        internal
        view
        returns (bytes32)
    {
        return keccak256(
            abi.encode(
                keccak256(
                    "RegistrationConsent(address registrant,bytes32 adapterHash,address contributor,uint256 units,uint256 totalUnits,uint256 nonce,uint256 deadline)"
                ),
                alice.addr,
                ADAPTER,
                contributor,
                units,
                total,
                nonce,
                deadline
            )
        );
    }

    function _changeStruct(
        uint256 modelId,
        address account,
        uint256 fromU,
        uint256 toU,
        uint256 total,
        uint256 nonce,
        uint256 deadline
    ) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(
                keccak256(
                    "UnitsChangeConsent(uint256 modelId,address account,uint256 fromUnits,uint256 toUnits,uint256 totalUnits,uint256 nonce,uint256 deadline)"
                ),
                modelId,
                account,
                fromU,
                toU,
                total,
                nonce,
                deadline
            )
        );
    }

    // ------------------------------------------------------------------ initialize

    function test_Initialize_SetsAssetRegistryAndRoles() public view {
        assertEq(address(shares.asset()), address(usd));
        assertEq(shares.registry(), address(registry));
        assertTrue(shares.hasRole(shares.DEFAULT_ADMIN_ROLE(), admin));
        assertTrue(shares.hasRole(shares.UPGRADER_ROLE(), admin));
        assertTrue(shares.hasRole(shares.PAUSER_ROLE(), admin));
        assertTrue(shares.hasRole(shares.SETTLEMENT_ROLE(), settlement));
        assertEq(shares.PRECISION(), 1e36);
        (, string memory name, string memory version, uint256 chainId, address verifying,,) = shares.eip712Domain();
        assertEq(name, "OpenLoRA CoTrainingShares");
        assertEq(version, "1");
        assertEq(chainId, block.chainid);
        assertEq(verifying, address(shares));
    }

    function test_Initialize_RevertWhen_ZeroAddress() public {
        address impl = address(new CoTrainingShares());
        vm.expectRevert(ICoTrainingShares.Shares_ZeroAddress.selector);
        new ERC1967Proxy(
            impl, abi.encodeCall(CoTrainingShares.initialize, (admin, IERC20(address(0)), address(registry)))
        );
    }

    function test_TypeHashes_MatchTheDocumentedStructs() public view {
        assertEq(
            shares.REGISTRATION_CONSENT_TYPEHASH(),
            keccak256(
                "RegistrationConsent(address registrant,bytes32 adapterHash,address contributor,uint256 units,uint256 totalUnits,uint256 nonce,uint256 deadline)"
            )
        );
        assertEq(
            shares.UNITS_CHANGE_CONSENT_TYPEHASH(),
            keccak256(
                "UnitsChangeConsent(uint256 modelId,address account,uint256 fromUnits,uint256 toUnits,uint256 totalUnits,uint256 nonce,uint256 deadline)"
            )
        );
    }

    function test_Digests_MatchAnIndependentEIP712Encoding() public view {
        assertEq(
            shares.registrationConsentDigest(alice.addr, ADAPTER, carol.addr, 3, 7, 11, 13),
            _digest(block.chainid, address(shares), _registrationStruct(carol.addr, 3, 7, 11, 13))
        );
        assertEq(
            shares.unitsChangeConsentDigest(5, carol.addr, 1, 2, 9, 11, 13),
            _digest(block.chainid, address(shares), _changeStruct(5, carol.addr, 1, 2, 9, 11, 13))
        );
    }

    // ------------------------------------------------------------------ registration consents

    function test_InitializeModel_SetsUnitsHoldersAndEvents() public {
        uint256 deadline = block.timestamp + 1 hours;
        ICoTrainingShares.ContributorConsent memory c =
            _registrationConsent(carol, alice.addr, ADAPTER, 30, 40, 77, deadline);
        vm.expectEmit(address(shares));
        emit ICoTrainingShares.UnitsChanged(1, carol.addr, 0, 30, 40);
        vm.expectEmit(address(shares));
        emit ICoTrainingShares.ModelInitialized(1, alice.addr, 40);
        uint256 id = _registerWith(c, 10);
        assertEq(shares.totalUnits(id), 40);
        assertEq(shares.unitsOf(id, carol.addr), 30);
        assertEq(shares.unitsOf(id, alice.addr), 10);
        assertTrue(shares.isNonceUsed(carol.addr, 77));
        (address[] memory accounts, uint256[] memory units) = shares.holdersOf(id);
        assertEq(accounts.length, 2);
        uint256 sum;
        for (uint256 i; i < accounts.length; ++i) {
            sum += units[i];
            assertEq(units[i], shares.unitsOf(id, accounts[i]));
        }
        assertEq(sum, 40);
    }

    function test_InitializeModel_AcceptsERC1271ContractContributor() public {
        MockERC1271Wallet wallet = new MockERC1271Wallet(erin.addr);
        uint256 deadline = block.timestamp + 1 hours;
        bytes32 digest = shares.registrationConsentDigest(alice.addr, ADAPTER, address(wallet), 5, 15, 1, deadline);
        ICoTrainingShares.ContributorConsent memory c = ICoTrainingShares.ContributorConsent({
            account: address(wallet), units: 5, nonce: 1, deadline: deadline, signature: _sign(erin.key, digest)
        });
        uint256 id = _registerWith(c, 10);
        assertEq(shares.unitsOf(id, address(wallet)), 5);
    }

    function test_InitializeModel_RevertWhen_SignedByWrongKey() public {
        uint256 deadline = block.timestamp + 1 hours;
        bytes32 digest = shares.registrationConsentDigest(alice.addr, ADAPTER, carol.addr, 30, 40, 1, deadline);
        ICoTrainingShares.ContributorConsent memory c = ICoTrainingShares.ContributorConsent({
            account: carol.addr, units: 30, nonce: 1, deadline: deadline, signature: _sign(dave.key, digest)
        });
        _expectRegistrationRevert(
            c, abi.encodeWithSelector(ICoTrainingShares.Shares_InvalidSignature.selector, carol.addr)
        );
    }

    function test_InitializeModel_RevertWhen_DeadlinePassed() public {
        uint256 deadline = block.timestamp - 1;
        ICoTrainingShares.ContributorConsent memory c =
            _registrationConsent(carol, alice.addr, ADAPTER, 30, 40, 1, deadline);
        _expectRegistrationRevert(
            c, abi.encodeWithSelector(ICoTrainingShares.Shares_SignatureExpired.selector, carol.addr, deadline)
        );
    }

    function test_InitializeModel_AcceptsDeadlineEqualToNow() public {
        ICoTrainingShares.ContributorConsent memory c =
            _registrationConsent(carol, alice.addr, ADAPTER, 30, 40, 1, block.timestamp);
        uint256 id = _registerWith(c, 10);
        assertEq(shares.unitsOf(id, carol.addr), 30);
    }

    function test_InitializeModel_RevertWhen_NonceReplayed() public {
        uint256 deadline = block.timestamp + 1 hours;
        ICoTrainingShares.ContributorConsent memory c =
            _registrationConsent(carol, alice.addr, ADAPTER, 30, 40, 5, deadline);
        _registerWith(c, 10);
        // The same consent for another adapter, with the same nonce, is refused.
        bytes32 other = keccak256("another adapter");
        bytes32 digest = shares.registrationConsentDigest(alice.addr, other, carol.addr, 30, 40, 5, deadline);
        c.signature = _sign(carol.key, digest);
        ICoTrainingShares.ContributorConsent[] memory list = new ICoTrainingShares.ContributorConsent[](2);
        ICoTrainingShares.ContributorConsent memory mine;
        mine.account = alice.addr;
        mine.units = 10;
        (list[0], list[1]) = alice.addr < carol.addr ? (mine, c) : (c, mine);
        vm.expectRevert(abi.encodeWithSelector(ICoTrainingShares.Shares_NonceUsed.selector, carol.addr, 5));
        vm.prank(alice.addr);
        registry.registerModel(_params(other, alice.addr), list);
    }

    function test_InitializeModel_RevertWhen_NonceInvalidated() public {
        vm.expectEmit(address(shares));
        emit ICoTrainingShares.NonceInvalidated(carol.addr, 9);
        vm.prank(carol.addr);
        shares.invalidateNonce(9);
        ICoTrainingShares.ContributorConsent memory c =
            _registrationConsent(carol, alice.addr, ADAPTER, 30, 40, 9, block.timestamp + 1);
        _expectRegistrationRevert(c, abi.encodeWithSelector(ICoTrainingShares.Shares_NonceUsed.selector, carol.addr, 9));
    }

    function test_InvalidateNonce_RevertWhen_AlreadyUsed() public {
        vm.startPrank(carol.addr);
        shares.invalidateNonce(9);
        vm.expectRevert(abi.encodeWithSelector(ICoTrainingShares.Shares_NonceUsed.selector, carol.addr, 9));
        shares.invalidateNonce(9);
        vm.stopPrank();
    }

    function test_InitializeModel_RevertWhen_SignedForAnotherChain() public {
        uint256 deadline = block.timestamp + 1 hours;
        bytes32 digest =
            _digest(block.chainid + 1, address(shares), _registrationStruct(carol.addr, 30, 40, 1, deadline));
        ICoTrainingShares.ContributorConsent memory c = ICoTrainingShares.ContributorConsent({
            account: carol.addr, units: 30, nonce: 1, deadline: deadline, signature: _sign(carol.key, digest)
        });
        _expectRegistrationRevert(
            c, abi.encodeWithSelector(ICoTrainingShares.Shares_InvalidSignature.selector, carol.addr)
        );
    }

    function test_InitializeModel_RevertWhen_SignedForAnotherContract() public {
        uint256 deadline = block.timestamp + 1 hours;
        bytes32 digest = _digest(block.chainid, address(registry), _registrationStruct(carol.addr, 30, 40, 1, deadline));
        ICoTrainingShares.ContributorConsent memory c = ICoTrainingShares.ContributorConsent({
            account: carol.addr, units: 30, nonce: 1, deadline: deadline, signature: _sign(carol.key, digest)
        });
        _expectRegistrationRevert(
            c, abi.encodeWithSelector(ICoTrainingShares.Shares_InvalidSignature.selector, carol.addr)
        );
    }

    function test_InitializeModel_RevertWhen_ChainIdChangesAfterSigning() public {
        // A signature made under this chain id is void once the chain id differs (a fork).
        ICoTrainingShares.ContributorConsent memory c =
            _registrationConsent(carol, alice.addr, ADAPTER, 30, 40, 1, block.timestamp + 1);
        vm.chainId(block.chainid + 7);
        _expectRegistrationRevert(
            c, abi.encodeWithSelector(ICoTrainingShares.Shares_InvalidSignature.selector, carol.addr)
        );
    }

    function test_InitializeModel_RevertWhen_UnitsDifferFromSigned() public {
        ICoTrainingShares.ContributorConsent memory c =
            _registrationConsent(carol, alice.addr, ADAPTER, 30, 40, 1, block.timestamp + 1);
        c.units = 31;
        _expectRegistrationRevert(
            c, abi.encodeWithSelector(ICoTrainingShares.Shares_InvalidSignature.selector, carol.addr)
        );
    }

    function test_InitializeModel_RevertWhen_TotalDiffersFromSigned() public {
        // carol agreed to 30 of 40; the registrant gives itself 20 (total 50), diluting her.
        ICoTrainingShares.ContributorConsent memory c =
            _registrationConsent(carol, alice.addr, ADAPTER, 30, 40, 1, block.timestamp + 1);
        vm.expectRevert(abi.encodeWithSelector(ICoTrainingShares.Shares_InvalidSignature.selector, carol.addr));
        this.registerWithUnits(c, 20);
    }

    function registerWithUnits(ICoTrainingShares.ContributorConsent memory other, uint256 aliceUnits) external {
        _registerWith(other, aliceUnits);
    }

    function test_InitializeModel_RevertWhen_SubmittedByAnotherRegistrant() public {
        // A front-runner copying carol's consent cannot register the adapter as its own.
        ICoTrainingShares.ContributorConsent memory c =
            _registrationConsent(carol, alice.addr, ADAPTER, 30, 40, 1, block.timestamp + 1);
        ICoTrainingShares.ContributorConsent[] memory list = new ICoTrainingShares.ContributorConsent[](2);
        ICoTrainingShares.ContributorConsent memory theirs;
        theirs.account = dave.addr;
        theirs.units = 10;
        (list[0], list[1]) = dave.addr < carol.addr ? (theirs, c) : (c, theirs);
        vm.expectRevert(abi.encodeWithSelector(ICoTrainingShares.Shares_InvalidSignature.selector, carol.addr));
        vm.prank(dave.addr);
        registry.registerModel(_params(ADAPTER, dave.addr), list);
    }

    function test_InitializeModel_RevertWhen_ContributorWithoutSignature() public {
        ICoTrainingShares.ContributorConsent memory c;
        c.account = carol.addr;
        c.units = 30;
        c.deadline = block.timestamp;
        _expectRegistrationRevert(
            c, abi.encodeWithSelector(ICoTrainingShares.Shares_InvalidSignature.selector, carol.addr)
        );
    }

    function test_InitializeModel_RevertWhen_AccountsNotAscending() public {
        ICoTrainingShares.ContributorConsent[] memory list = new ICoTrainingShares.ContributorConsent[](2);
        list[0].account = alice.addr;
        list[0].units = 1;
        list[1].account = alice.addr;
        list[1].units = 1;
        vm.expectRevert(
            abi.encodeWithSelector(ICoTrainingShares.Shares_AccountsNotAscending.selector, alice.addr, alice.addr)
        );
        vm.prank(alice.addr);
        registry.registerModel(_params(ADAPTER, alice.addr), list);
    }

    function test_InitializeModel_RevertWhen_ZeroUnits() public {
        ICoTrainingShares.ContributorConsent[] memory list = new ICoTrainingShares.ContributorConsent[](1);
        list[0].account = alice.addr;
        vm.expectRevert(abi.encodeWithSelector(ICoTrainingShares.Shares_ZeroUnits.selector, alice.addr));
        vm.prank(alice.addr);
        registry.registerModel(_params(ADAPTER, alice.addr), list);
    }

    function test_InitializeModel_RevertWhen_ZeroAccount() public {
        ICoTrainingShares.ContributorConsent[] memory list = new ICoTrainingShares.ContributorConsent[](1);
        list[0].units = 1;
        vm.expectRevert(ICoTrainingShares.Shares_ZeroAddress.selector);
        vm.prank(alice.addr);
        registry.registerModel(_params(ADAPTER, alice.addr), list);
    }

    function test_InitializeModel_RevertWhen_TotalUnitsTooLarge() public {
        ICoTrainingShares.ContributorConsent[] memory list = new ICoTrainingShares.ContributorConsent[](1);
        list[0].account = alice.addr;
        list[0].units = uint256(type(uint128).max) + 1;
        vm.expectRevert(abi.encodeWithSelector(ICoTrainingShares.Shares_TotalUnitsTooLarge.selector, list[0].units));
        vm.prank(alice.addr);
        registry.registerModel(_params(ADAPTER, alice.addr), list);
    }

    function test_InitializeModel_RevertWhen_CallerIsNotRegistry() public {
        ICoTrainingShares.ContributorConsent[] memory list = new ICoTrainingShares.ContributorConsent[](1);
        list[0].account = stranger;
        list[0].units = 1;
        vm.expectRevert(abi.encodeWithSelector(ICoTrainingShares.Shares_CallerNotRegistry.selector, stranger));
        vm.prank(stranger);
        shares.initializeModel(1, stranger, ADAPTER, list);
    }

    function test_InitializeModel_RevertWhen_AlreadyInitialized() public {
        uint256 id = _registerSolo(alice.addr, ADAPTER, 1);
        ICoTrainingShares.ContributorConsent[] memory list = new ICoTrainingShares.ContributorConsent[](1);
        list[0].account = stranger;
        list[0].units = 1;
        vm.expectRevert(abi.encodeWithSelector(ICoTrainingShares.Shares_ModelAlreadyInitialized.selector, id));
        vm.prank(address(registry));
        shares.initializeModel(id, stranger, ADAPTER, list);
    }

    function test_InitializeModel_RevertWhen_Paused() public {
        vm.prank(admin);
        shares.pause();
        vm.expectRevert(PausableUpgradeable.EnforcedPause.selector);
        this.registerSoloExternal();
    }

    function registerSoloExternal() external {
        _registerSolo(alice.addr, ADAPTER, 1);
    }

    // ------------------------------------------------------------------ revenue and claims

    function test_CreditRevenue_DistributesByUnits() public {
        uint256 id = _registerThree();
        usd.mint(address(shares), 1000);
        vm.expectEmit(address(shares));
        emit ICoTrainingShares.RevenueCredited(id, 1000, 1000, 1000 * 1e36 / 100);
        vm.prank(settlement);
        shares.creditRevenue(id, 1000);
        assertEq(shares.claimable(id, alice.addr), 500);
        assertEq(shares.claimable(id, carol.addr), 300);
        assertEq(shares.claimable(id, dave.addr), 200);
        assertEq(shares.totalOwed(), 1000);
        assertEq(shares.totalCredited(id), 1000);

        vm.expectEmit(address(shares));
        emit ICoTrainingShares.RewardsClaimed(id, carol.addr, 300, 300);
        vm.prank(carol.addr);
        assertEq(shares.claim(id), 300);
        assertEq(usd.balanceOf(carol.addr), 300);
        assertEq(shares.claimable(id, carol.addr), 0);
        assertEq(shares.totalClaimed(id), 300);
        assertEq(shares.totalOwed(), 700);
        // Nothing more to claim: returns 0 and pays nothing.
        vm.prank(carol.addr);
        assertEq(shares.claim(id), 0);
        assertEq(usd.balanceOf(carol.addr), 300);
    }

    function test_CreditRevenue_CarriesRoundingRemainderForward() public {
        Signer[] memory signers = new Signer[](3);
        signers[0] = alice;
        signers[1] = carol;
        signers[2] = dave;
        uint256[] memory units = new uint256[](3);
        units[0] = 1;
        units[1] = 1;
        units[2] = 1;
        (uint256 id,) = _register(alice.addr, ADAPTER, signers, units);
        _creditHolders(id, 1); // 1/3 each: nobody can claim a whole unit yet
        assertEq(shares.claimable(id, alice.addr), 0);
        _creditHolders(id, 2); // 3 in total: 1 each, nothing lost
        assertEq(shares.claimable(id, alice.addr), 1);
        assertEq(shares.claimable(id, carol.addr), 1);
        assertEq(shares.claimable(id, dave.addr), 1);
    }

    function test_CreditRevenue_RevertWhen_CallerIsNotSettlement() public {
        uint256 id = _registerThree();
        usd.mint(address(shares), 10);
        vm.expectRevert(_missingRole(alice.addr, shares.SETTLEMENT_ROLE()));
        vm.prank(alice.addr);
        shares.creditRevenue(id, 10);
    }

    function test_CreditRevenue_RevertWhen_TokensNotTransferred() public {
        uint256 id = _registerThree();
        _creditHolders(id, 100);
        usd.mint(address(shares), 9);
        vm.expectRevert(abi.encodeWithSelector(ICoTrainingShares.Shares_RevenueNotReceived.selector, 109, 110));
        vm.prank(settlement);
        shares.creditRevenue(id, 10);
    }

    function test_CreditRevenue_RevertWhen_ModelUnknown() public {
        usd.mint(address(shares), 10);
        vm.expectRevert(abi.encodeWithSelector(ICoTrainingShares.Shares_UnknownModel.selector, 3));
        vm.prank(settlement);
        shares.creditRevenue(3, 10);
    }

    function test_ClaimMany_PaysSeveralModelsInOneTransfer() public {
        uint256 a = _registerSolo(alice.addr, keccak256("a"), 1);
        uint256 b = _registerSolo(alice.addr, keccak256("b"), 3);
        _creditHolders(a, 70);
        _creditHolders(b, 30);
        uint256[] memory ids = new uint256[](2);
        ids[0] = a;
        ids[1] = b;
        vm.prank(alice.addr);
        assertEq(shares.claimMany(ids), 100);
        assertEq(usd.balanceOf(alice.addr), 100);
        assertEq(shares.totalOwed(), 0);
    }

    function test_Claim_WorksWhilePaused() public {
        uint256 id = _registerThree();
        _creditHolders(id, 1000);
        vm.prank(admin);
        shares.pause();
        vm.prank(dave.addr);
        assertEq(shares.claim(id), 200);
        uint256[] memory ids = new uint256[](1);
        ids[0] = id;
        vm.prank(carol.addr);
        assertEq(shares.claimMany(ids), 300);
        // Crediting goes on too: money already on its way to holders is never stuck.
        _creditHolders(id, 100);
        assertEq(shares.claimable(id, alice.addr), 550);
    }

    // ------------------------------------------------------------------ transfers

    function test_TransferUnits_MovesUnitsButNotEarnedRewards() public {
        uint256 id = _registerThree();
        _creditHolders(id, 1000);
        vm.expectEmit(address(shares));
        emit ICoTrainingShares.UnitsTransferred(id, carol.addr, erin.addr, 30);
        vm.prank(carol.addr);
        shares.transferUnits(id, erin.addr, 30);
        assertEq(shares.unitsOf(id, carol.addr), 0);
        assertEq(shares.unitsOf(id, erin.addr), 30);
        assertEq(shares.totalUnits(id), 100);
        // carol keeps what she earned before; erin earns only from now on.
        assertEq(shares.claimable(id, carol.addr), 300);
        assertEq(shares.claimable(id, erin.addr), 0);
        _creditHolders(id, 100);
        assertEq(shares.claimable(id, carol.addr), 300);
        assertEq(shares.claimable(id, erin.addr), 30);
        (address[] memory accounts,) = shares.holdersOf(id);
        assertEq(accounts.length, 3);
        for (uint256 i; i < accounts.length; ++i) {
            assertTrue(accounts[i] != carol.addr);
        }
    }

    function test_TransferUnits_RevertWhen_InsufficientUnits() public {
        uint256 id = _registerThree();
        vm.expectRevert(
            abi.encodeWithSelector(ICoTrainingShares.Shares_InsufficientUnits.selector, id, dave.addr, 20, 21)
        );
        vm.prank(dave.addr);
        shares.transferUnits(id, erin.addr, 21);
        // Someone without units cannot move anyone's units.
        vm.expectRevert(abi.encodeWithSelector(ICoTrainingShares.Shares_InsufficientUnits.selector, id, stranger, 0, 1));
        vm.prank(stranger);
        shares.transferUnits(id, stranger == erin.addr ? dave.addr : erin.addr, 1);
    }

    function test_TransferUnits_RevertWhen_ZeroSelfOrZeroAddress() public {
        uint256 id = _registerThree();
        vm.startPrank(dave.addr);
        vm.expectRevert(
            abi.encodeWithSelector(ICoTrainingShares.Shares_InvalidTransfer.selector, id, dave.addr, erin.addr, 0)
        );
        shares.transferUnits(id, erin.addr, 0);
        vm.expectRevert(
            abi.encodeWithSelector(ICoTrainingShares.Shares_InvalidTransfer.selector, id, dave.addr, dave.addr, 1)
        );
        shares.transferUnits(id, dave.addr, 1);
        vm.expectRevert(ICoTrainingShares.Shares_ZeroAddress.selector);
        shares.transferUnits(id, address(0), 1);
        vm.stopPrank();
    }

    function test_TransferUnits_RevertWhen_Paused() public {
        uint256 id = _registerThree();
        vm.prank(admin);
        shares.pause();
        vm.expectRevert(PausableUpgradeable.EnforcedPause.selector);
        vm.prank(dave.addr);
        shares.transferUnits(id, erin.addr, 1);
    }

    // ------------------------------------------------------------------ training rounds

    function _round1(uint256 id) internal view returns (ICoTrainingShares.UnitsChange[] memory changes) {
        // carol 30 -> 10, erin 0 -> 40: total 100 - 20 + 40 = 120.
        uint256 deadline = block.timestamp + 1 hours;
        changes = new ICoTrainingShares.UnitsChange[](2);
        ICoTrainingShares.UnitsChange memory c = _unitsChange(carol, id, 10, 120, 1, deadline);
        ICoTrainingShares.UnitsChange memory e = _unitsChange(erin, id, 40, 120, 1, deadline);
        (changes[0], changes[1]) = carol.addr < erin.addr ? (c, e) : (e, c);
    }

    function test_ApplyTrainingRound_ChangesUnitsWithConsentAndKeepsEarnings() public {
        uint256 id = _registerThree();
        _creditHolders(id, 1000);
        ICoTrainingShares.UnitsChange[] memory changes = _round1(id);
        vm.expectEmit(address(shares));
        emit ICoTrainingShares.TrainingRoundApplied(id, 1, 120);
        vm.prank(alice.addr);
        assertEq(shares.applyTrainingRound(id, changes), 120);
        assertEq(shares.totalUnits(id), 120);
        assertEq(shares.unitsOf(id, carol.addr), 10);
        assertEq(shares.unitsOf(id, erin.addr), 40);
        assertEq(shares.roundsOf(id), 1);
        // Earned before the round stays.
        assertEq(shares.claimable(id, carol.addr), 300);
        assertEq(shares.claimable(id, erin.addr), 0);
        _creditHolders(id, 1200);
        assertEq(shares.claimable(id, alice.addr), 500 + 500);
        assertEq(shares.claimable(id, carol.addr), 300 + 100);
        assertEq(shares.claimable(id, dave.addr), 200 + 200);
        assertEq(shares.claimable(id, erin.addr), 400);
    }

    function test_ApplyTrainingRound_RemovesHolderAtZeroUnits() public {
        uint256 id = _registerThree();
        _creditHolders(id, 100);
        ICoTrainingShares.UnitsChange[] memory changes = new ICoTrainingShares.UnitsChange[](1);
        changes[0] = _unitsChange(dave, id, 0, 80, 3, block.timestamp + 1);
        vm.prank(alice.addr);
        shares.applyTrainingRound(id, changes);
        assertEq(shares.unitsOf(id, dave.addr), 0);
        (address[] memory accounts,) = shares.holdersOf(id);
        assertEq(accounts.length, 2);
        vm.prank(dave.addr);
        assertEq(shares.claim(id), 20);
    }

    function test_ApplyTrainingRound_RevertWhen_CallerIsNotOwner() public {
        uint256 id = _registerThree();
        ICoTrainingShares.UnitsChange[] memory changes = _round1(id);
        vm.expectRevert(abi.encodeWithSelector(ICoTrainingShares.Shares_NotModelOwner.selector, id, carol.addr));
        vm.prank(carol.addr);
        shares.applyTrainingRound(id, changes);
    }

    function test_ApplyTrainingRound_RevertWhen_SignedByWrongKey() public {
        uint256 id = _registerThree();
        ICoTrainingShares.UnitsChange[] memory changes = new ICoTrainingShares.UnitsChange[](1);
        changes[0] = _unitsChange(dave, id, 1, 81, 3, block.timestamp + 1);
        changes[0].signature =
            _sign(alice.key, shares.unitsChangeConsentDigest(id, dave.addr, 20, 1, 81, 3, block.timestamp + 1));
        vm.expectRevert(abi.encodeWithSelector(ICoTrainingShares.Shares_InvalidSignature.selector, dave.addr));
        vm.prank(alice.addr);
        shares.applyTrainingRound(id, changes);
    }

    function test_ApplyTrainingRound_RevertWhen_DeadlinePassed() public {
        uint256 id = _registerThree();
        uint256 deadline = block.timestamp + 10;
        ICoTrainingShares.UnitsChange[] memory changes = new ICoTrainingShares.UnitsChange[](1);
        changes[0] = _unitsChange(dave, id, 1, 81, 3, deadline);
        vm.warp(deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(ICoTrainingShares.Shares_SignatureExpired.selector, dave.addr, deadline));
        vm.prank(alice.addr);
        shares.applyTrainingRound(id, changes);
    }

    function test_ApplyTrainingRound_RevertWhen_NonceReplayed() public {
        uint256 id = _registerThree();
        uint256 deadline = block.timestamp + 1 hours;
        ICoTrainingShares.UnitsChange[] memory changes = new ICoTrainingShares.UnitsChange[](1);
        changes[0] = _unitsChange(dave, id, 10, 90, 3, deadline);
        vm.prank(alice.addr);
        shares.applyTrainingRound(id, changes);
        // Going back to 20 with a fresh signature but the used nonce.
        changes[0] = _unitsChange(dave, id, 20, 100, 3, deadline);
        vm.expectRevert(abi.encodeWithSelector(ICoTrainingShares.Shares_NonceUsed.selector, dave.addr, 3));
        vm.prank(alice.addr);
        shares.applyTrainingRound(id, changes);
    }

    function test_ApplyTrainingRound_RevertWhen_SignatureReplayedAfterUnitsMoved() public {
        // A consent binds the units it changes from: once they moved, the old consent is void even
        // with an unused nonce.
        uint256 id = _registerThree();
        ICoTrainingShares.UnitsChange[] memory changes = new ICoTrainingShares.UnitsChange[](1);
        changes[0] = _unitsChange(dave, id, 10, 90, 3, block.timestamp + 1);
        vm.prank(dave.addr);
        shares.transferUnits(id, carol.addr, 5);
        vm.expectRevert(abi.encodeWithSelector(ICoTrainingShares.Shares_InvalidSignature.selector, dave.addr));
        vm.prank(alice.addr);
        shares.applyTrainingRound(id, changes);
    }

    function test_ApplyTrainingRound_RevertWhen_SignedForAnotherChain() public {
        uint256 id = _registerThree();
        uint256 deadline = block.timestamp + 1;
        ICoTrainingShares.UnitsChange[] memory changes = new ICoTrainingShares.UnitsChange[](1);
        changes[0] = ICoTrainingShares.UnitsChange({
            account: dave.addr,
            toUnits: 1,
            nonce: 3,
            deadline: deadline,
            signature: _sign(
                dave.key,
                _digest(block.chainid + 1, address(shares), _changeStruct(id, dave.addr, 20, 1, 81, 3, deadline))
            )
        });
        vm.expectRevert(abi.encodeWithSelector(ICoTrainingShares.Shares_InvalidSignature.selector, dave.addr));
        vm.prank(alice.addr);
        shares.applyTrainingRound(id, changes);
    }

    function test_ApplyTrainingRound_RevertWhen_SignedForAnotherContract() public {
        uint256 id = _registerThree();
        uint256 deadline = block.timestamp + 1;
        ICoTrainingShares.UnitsChange[] memory changes = new ICoTrainingShares.UnitsChange[](1);
        changes[0] = ICoTrainingShares.UnitsChange({
            account: dave.addr,
            toUnits: 1,
            nonce: 3,
            deadline: deadline,
            signature: _sign(
                dave.key, _digest(block.chainid, address(0xdead), _changeStruct(id, dave.addr, 20, 1, 81, 3, deadline))
            )
        });
        vm.expectRevert(abi.encodeWithSelector(ICoTrainingShares.Shares_InvalidSignature.selector, dave.addr));
        vm.prank(alice.addr);
        shares.applyTrainingRound(id, changes);
    }

    function test_ApplyTrainingRound_RevertWhen_ConsentIsForAnotherModel() public {
        uint256 id = _registerThree();
        uint256 other = _registerSolo(alice.addr, keccak256("other"), 1);
        ICoTrainingShares.UnitsChange[] memory changes = new ICoTrainingShares.UnitsChange[](1);
        changes[0] = _unitsChange(dave, id, 5, 6, 3, block.timestamp + 1); // dave 20 -> 5 in `id`... signed
        vm.expectRevert(abi.encodeWithSelector(ICoTrainingShares.Shares_InvalidSignature.selector, dave.addr));
        vm.prank(alice.addr);
        shares.applyTrainingRound(other, changes); // ...submitted for `other`
    }

    function test_ApplyTrainingRound_RevertWhen_UnitsUnchanged() public {
        uint256 id = _registerThree();
        ICoTrainingShares.UnitsChange[] memory changes = new ICoTrainingShares.UnitsChange[](1);
        changes[0] = _unitsChange(dave, id, 20, 100, 3, block.timestamp + 1);
        vm.expectRevert(abi.encodeWithSelector(ICoTrainingShares.Shares_UnitsUnchanged.selector, dave.addr, 20));
        vm.prank(alice.addr);
        shares.applyTrainingRound(id, changes);
    }

    function test_ApplyTrainingRound_RevertWhen_TotalWouldBeZero() public {
        uint256 id = _registerSolo(alice.addr, ADAPTER, 5);
        ICoTrainingShares.UnitsChange[] memory changes = new ICoTrainingShares.UnitsChange[](1);
        changes[0] = _unitsChange(alice, id, 0, 0, 3, block.timestamp + 1);
        vm.expectRevert(abi.encodeWithSelector(ICoTrainingShares.Shares_TotalUnitsZero.selector, id));
        vm.prank(alice.addr);
        shares.applyTrainingRound(id, changes);
    }

    function test_ApplyTrainingRound_RevertWhen_EmptyOrUnsorted() public {
        uint256 id = _registerThree();
        vm.expectRevert(ICoTrainingShares.Shares_NoContributors.selector);
        vm.prank(alice.addr);
        shares.applyTrainingRound(id, new ICoTrainingShares.UnitsChange[](0));
        ICoTrainingShares.UnitsChange[] memory changes = _round1(id);
        (changes[0], changes[1]) = (changes[1], changes[0]);
        vm.expectRevert(
            abi.encodeWithSelector(
                ICoTrainingShares.Shares_AccountsNotAscending.selector, changes[0].account, changes[1].account
            )
        );
        vm.prank(alice.addr);
        shares.applyTrainingRound(id, changes);
    }

    function test_ApplyTrainingRound_RevertWhen_ModelUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelRegistry_UnknownModel.selector, 4));
        vm.prank(alice.addr);
        shares.applyTrainingRound(4, new ICoTrainingShares.UnitsChange[](0));
    }

    function test_ApplyTrainingRound_RevertWhen_Paused() public {
        uint256 id = _registerThree();
        ICoTrainingShares.UnitsChange[] memory changes = _round1(id);
        vm.prank(admin);
        shares.pause();
        vm.expectRevert(PausableUpgradeable.EnforcedPause.selector);
        vm.prank(alice.addr);
        shares.applyTrainingRound(id, changes);
    }

    // ------------------------------------------------------------------ admin

    function test_Pause_RevertWhen_CallerIsNotPauser() public {
        vm.expectRevert(_missingRole(stranger, shares.PAUSER_ROLE()));
        vm.prank(stranger);
        shares.pause();
    }

    function test_Unpause_RevertWhen_CallerIsNotPauser() public {
        vm.prank(admin);
        shares.pause();
        vm.expectRevert(_missingRole(stranger, shares.PAUSER_ROLE()));
        vm.prank(stranger);
        shares.unpause();
        vm.prank(admin);
        shares.unpause();
        assertFalse(shares.paused());
    }

    function test_SweepSurplus_SendsOnlyDonations() public {
        uint256 id = _registerThree();
        _creditHolders(id, 1000);
        usd.mint(address(shares), 55); // a direct transfer, owed to no one
        vm.expectEmit(address(shares));
        emit ICoTrainingShares.SurplusSwept(admin, 55);
        vm.prank(admin);
        assertEq(shares.sweepSurplus(admin), 55);
        assertEq(usd.balanceOf(address(shares)), 1000);
        vm.prank(admin);
        assertEq(shares.sweepSurplus(admin), 0);
        // Holders are still paid in full.
        vm.prank(alice.addr);
        assertEq(shares.claim(id), 500);
    }

    function test_SweepSurplus_RevertWhen_CallerIsNotAdmin() public {
        vm.expectRevert(_missingRole(stranger, shares.DEFAULT_ADMIN_ROLE()));
        vm.prank(stranger);
        shares.sweepSurplus(stranger);
    }

    function test_SweepSurplus_RevertWhen_RecipientIsZero() public {
        vm.expectRevert(ICoTrainingShares.Shares_ZeroAddress.selector);
        vm.prank(admin);
        shares.sweepSurplus(address(0));
    }

    // ------------------------------------------------------------------ fuzz

    /// @dev Holders' claims never exceed what was credited, and lose less than one token unit each.
    function testFuzz_Claims_NeverExceedCreditedAndLoseAtMostOneUnitEach(
        uint96[3] memory units,
        uint64[5] memory credits
    ) public {
        Signer[] memory signers = new Signer[](3);
        signers[0] = alice;
        signers[1] = carol;
        signers[2] = dave;
        uint256[] memory u = new uint256[](3);
        for (uint256 i; i < 3; ++i) {
            u[i] = bound(units[i], 1, type(uint96).max);
        }
        (uint256 id,) = _register(alice.addr, ADAPTER, signers, u);
        uint256 credited;
        for (uint256 i; i < 5; ++i) {
            _creditHolders(id, credits[i]);
            credited += credits[i];
        }
        uint256 claimed;
        for (uint256 i; i < 3; ++i) {
            vm.prank(signers[i].addr);
            claimed += shares.claim(id);
        }
        assertLe(claimed, credited);
        assertLe(credited - claimed, 3, "each holder loses less than one unit to rounding");
        assertEq(usd.balanceOf(address(shares)), credited - claimed);
        assertEq(shares.totalOwed(), credited - claimed);
    }

    /// @dev A transfer in the middle of a revenue stream leaves everyone with exactly what they earned.
    function testFuzz_TransferUnits_NeverMovesEarnedRewards(uint64 before, uint64 afterwards, uint256 moved) public {
        uint256 id = _registerThree(); // alice 50, carol 30, dave 20
        moved = bound(moved, 1, 30);
        _creditHolders(id, before);
        uint256 carolBefore = shares.claimable(id, carol.addr);
        uint256 erinBefore = shares.claimable(id, erin.addr);
        vm.prank(carol.addr);
        shares.transferUnits(id, erin.addr, moved);
        assertEq(shares.claimable(id, carol.addr), carolBefore);
        assertEq(shares.claimable(id, erin.addr), erinBefore);
        _creditHolders(id, afterwards);
        // From now on each earns by its new units (within one unit of rounding).
        assertApproxEqAbs(shares.claimable(id, carol.addr), carolBefore + uint256(afterwards) * (30 - moved) / 100, 1);
        assertApproxEqAbs(shares.claimable(id, erin.addr), uint256(afterwards) * moved / 100, 1);
    }
}
