// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {CoTrainingShares} from "../../contracts/CoTrainingShares.sol";
import {ModelRegistry} from "../../contracts/ModelRegistry.sol";
import {ModelVault} from "../../contracts/ModelVault.sol";
import {ModelVaultFactory} from "../../contracts/ModelVaultFactory.sol";
import {TestUSD} from "../../contracts/devnet/TestUSD.sol";
import {ICoTrainingShares} from "../../contracts/interfaces/ICoTrainingShares.sol";
import {IModelRegistry} from "../../contracts/interfaces/IModelRegistry.sol";
import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Test} from "forge-std/Test.sol";

/// @notice Deploys the registry, the shares and the vault factory behind their proxies, wired and
///         with an ordinary address in the Settlement role, plus helpers to sign consents.
abstract contract ProtocolFixture is Test {
    struct Signer {
        address addr;
        uint256 key;
    }

    uint256 internal constant UNLOCK_PERIOD = 7 days;
    bytes32 internal constant BASE_HASH = keccak256("base model bytes");

    address internal admin = makeAddr("admin");
    address internal settlement = makeAddr("settlement");
    address internal stranger = makeAddr("stranger");

    TestUSD internal usd;
    ModelRegistry internal registry;
    CoTrainingShares internal shares;
    ModelVaultFactory internal factory;
    ModelVault internal vaultImplementation;
    uint256 internal baseModelId;
    uint256 private nextNonce = 1;

    function setUp() public virtual {
        vm.warp(1_750_000_000);
        _deployProtocol();
        baseModelId = registry.registerBaseModel(BASE_HASH, "ipfs://base");
    }

    function _deployProtocol() internal {
        usd = new TestUSD(address(this));
        registry = ModelRegistry(
            address(new ERC1967Proxy(address(new ModelRegistry()), abi.encodeCall(ModelRegistry.initialize, (admin))))
        );
        shares = CoTrainingShares(
            address(
                new ERC1967Proxy(
                    address(new CoTrainingShares()),
                    abi.encodeCall(CoTrainingShares.initialize, (admin, IERC20(address(usd)), address(registry)))
                )
            )
        );
        vaultImplementation = new ModelVault();
        factory = ModelVaultFactory(
            address(
                new ERC1967Proxy(
                    address(new ModelVaultFactory()),
                    abi.encodeCall(
                        ModelVaultFactory.initialize,
                        (admin, address(usd), address(registry), address(vaultImplementation), UNLOCK_PERIOD)
                    )
                )
            )
        );
        vm.startPrank(admin);
        registry.setModules(shares, factory);
        registry.grantRole(registry.SETTLEMENT_ROLE(), settlement);
        shares.grantRole(shares.SETTLEMENT_ROLE(), settlement);
        factory.grantRole(factory.SETTLEMENT_ROLE(), settlement);
        vm.stopPrank();
    }

    // ------------------------------------------------------------------ accounts

    function _signer(string memory name) internal returns (Signer memory s) {
        (s.addr, s.key) = makeAddrAndKey(name);
    }

    function _sign(uint256 key, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    function _freshNonce() internal returns (uint256) {
        return nextNonce++;
    }

    /// @dev Sorts signers (and their units) by address, as the contracts require.
    function _sort(Signer[] memory signers, uint256[] memory units) internal pure {
        for (uint256 i = 1; i < signers.length; ++i) {
            for (uint256 j = i; j > 0 && signers[j - 1].addr > signers[j].addr; --j) {
                (signers[j - 1], signers[j]) = (signers[j], signers[j - 1]);
                (units[j - 1], units[j]) = (units[j], units[j - 1]);
            }
        }
    }

    // ------------------------------------------------------------------ consents

    function _registrationConsent(
        Signer memory s,
        address registrant,
        bytes32 adapterHash,
        uint256 units,
        uint256 total,
        uint256 nonce,
        uint256 deadline
    ) internal view returns (ICoTrainingShares.ContributorConsent memory c) {
        bytes32 digest = shares.registrationConsentDigest(
            registrant, adapterHash, s.addr, units, total, nonce, deadline
        );
        c = ICoTrainingShares.ContributorConsent({
            account: s.addr, units: units, nonce: nonce, deadline: deadline, signature: _sign(s.key, digest)
        });
    }

    function _unitsChange(
        Signer memory s,
        uint256 modelId,
        uint256 toUnits,
        uint256 total,
        uint256 nonce,
        uint256 deadline
    ) internal view returns (ICoTrainingShares.UnitsChange memory c) {
        uint256 fromUnits = shares.unitsOf(modelId, s.addr);
        bytes32 digest = shares.unitsChangeConsentDigest(modelId, s.addr, fromUnits, toUnits, total, nonce, deadline);
        c = ICoTrainingShares.UnitsChange({
            account: s.addr, toUnits: toUnits, nonce: nonce, deadline: deadline, signature: _sign(s.key, digest)
        });
    }

    /// @dev Consents of every signer (sorted by address, in place) for a registration by `registrant`.
    function _consents(address registrant, bytes32 adapterHash, Signer[] memory signers, uint256[] memory units)
        internal
        returns (ICoTrainingShares.ContributorConsent[] memory list)
    {
        _sort(signers, units);
        uint256 total;
        for (uint256 i; i < units.length; ++i) {
            total += units[i];
        }
        list = new ICoTrainingShares.ContributorConsent[](signers.length);
        for (uint256 i; i < signers.length; ++i) {
            if (signers[i].addr == registrant) {
                // The registrant's own entry needs no signature: it sends the transaction.
                list[i].account = registrant;
                list[i].units = units[i];
                continue;
            }
            list[i] = _registrationConsent(
                signers[i], registrant, adapterHash, units[i], total, _freshNonce(), block.timestamp + 1 hours
            );
        }
    }

    // ------------------------------------------------------------------ registration

    function _params(bytes32 adapterHash, address trainer) internal view returns (IModelRegistry.ModelParams memory p) {
        bytes32[] memory datasets = new bytes32[](2);
        datasets[0] = keccak256("dataset a");
        datasets[1] = keccak256("dataset b");
        p = IModelRegistry.ModelParams({
            trainer: trainer,
            adapterHash: adapterHash,
            baseModelId: baseModelId,
            parentModelId: 0,
            pricePerCall: 1000,
            vaultShareBps: 2000,
            metadataURI: "ipfs://adapter",
            datasetHashes: datasets
        });
    }

    /// @dev Registers a model owned (and trained) by `owner` with the given contributors.
    function _register(address owner, bytes32 adapterHash, Signer[] memory signers, uint256[] memory units)
        internal
        returns (uint256 modelId, address vault)
    {
        ICoTrainingShares.ContributorConsent[] memory list = _consents(owner, adapterHash, signers, units);
        vm.prank(owner);
        (modelId, vault) = registry.registerModel(_params(adapterHash, owner), list);
    }

    /// @dev Registers a model with one contributor: the owner itself (no signature needed).
    function _registerSolo(address owner, bytes32 adapterHash, uint256 units) internal returns (uint256 modelId) {
        ICoTrainingShares.ContributorConsent[] memory list = new ICoTrainingShares.ContributorConsent[](1);
        list[0] =
            ICoTrainingShares.ContributorConsent({account: owner, units: units, nonce: 0, deadline: 0, signature: ""});
        vm.prank(owner);
        (modelId,) = registry.registerModel(_params(adapterHash, owner), list);
    }

    // ------------------------------------------------------------------ money

    /// @dev What Settlement does for holders: push the tokens, then notify.
    function _creditHolders(uint256 modelId, uint256 amount) internal {
        usd.mint(address(shares), amount);
        vm.prank(settlement);
        shares.creditRevenue(modelId, amount);
    }

    /// @dev What Settlement does for a vault: push the tokens, then notify.
    function _payVault(ModelVault vault, uint256 amount) internal {
        usd.mint(address(vault), amount);
        vm.prank(settlement);
        vault.receiveRevenue(amount);
    }

    function _deposit(ModelVault vault, address who, uint256 assets) internal returns (uint256 minted) {
        usd.mint(who, assets);
        vm.startPrank(who);
        usd.approve(address(vault), assets);
        minted = vault.deposit(assets, who);
        vm.stopPrank();
    }

    function _missingRole(address account, bytes32 role) internal pure returns (bytes memory) {
        return abi.encodeWithSignature("AccessControlUnauthorizedAccount(address,bytes32)", account, role);
    }
}
