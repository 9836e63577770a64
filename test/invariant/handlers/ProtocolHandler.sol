// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {CoTrainingShares} from "../../../contracts/CoTrainingShares.sol";
import {ModelVault} from "../../../contracts/ModelVault.sol";
import {ModelVaultFactory} from "../../../contracts/ModelVaultFactory.sol";
import {TestUSD} from "../../../contracts/devnet/TestUSD.sol";
import {ICoTrainingShares} from "../../../contracts/interfaces/ICoTrainingShares.sol";
import {IModelVault} from "../../../contracts/interfaces/IModelVault.sol";
import {Test} from "forge-std/Test.sol";

/// @notice Drives shares and vaults the way actors, Settlement and an attacker would, and keeps
///         ghost sums of what went in and out. Every call is bounded so that it mostly succeeds.
contract ProtocolHandler is Test {
    uint256 internal constant MAX_AMOUNT = 1e15; // a billion tUSD
    uint256 internal constant PRICE_PROBE = 1e18; // shares whose value is watched

    TestUSD internal immutable usd;
    CoTrainingShares internal immutable shares;
    ModelVaultFactory internal immutable factory;
    address internal immutable settlement;
    address internal immutable admin;

    address[] public actors;
    uint256[] internal keys;
    uint256[] public modelIds;
    address[] public modelOwners;
    ModelVault[] public vaults;

    // ghosts
    mapping(uint256 modelId => uint256) public ghostCredited;
    mapping(uint256 modelId => uint256) public ghostClaimed;
    mapping(uint256 modelId => mapping(address account => uint256)) public ghostUnits;
    uint256 public ghostDonatedToShares;
    mapping(address vault => uint256) public ghostDonatedToVault;
    mapping(address vault => uint256) public lastPrice;
    bool public priceFell;
    bool public unconsentedChangeSucceeded;
    bool public withdrawalBlocked;
    bool public claimBlocked;
    uint256 private nonce = 1_000_000;

    mapping(bytes32 => uint256) public calls;

    constructor(
        TestUSD usd_,
        CoTrainingShares shares_,
        ModelVaultFactory factory_,
        address settlement_,
        address admin_,
        address[] memory actors_,
        uint256[] memory keys_,
        uint256[] memory modelIds_,
        address[] memory owners_
    ) {
        usd = usd_;
        shares = shares_;
        factory = factory_;
        settlement = settlement_;
        admin = admin_;
        actors = actors_;
        keys = keys_;
        modelIds = modelIds_;
        modelOwners = owners_;
        for (uint256 i; i < modelIds_.length; ++i) {
            ModelVault v = ModelVault(factory_.vaultOf(modelIds_[i]));
            vaults.push(v);
            lastPrice[address(v)] = v.convertToAssets(PRICE_PROBE);
            for (uint256 j; j < actors_.length; ++j) {
                ghostUnits[modelIds_[i]][actors_[j]] = shares_.unitsOf(modelIds_[i], actors_[j]);
            }
        }
    }

    /// @dev After every call: no vault's share price went down.
    modifier watchPrices() {
        _;
        for (uint256 i; i < vaults.length; ++i) {
            uint256 p = vaults[i].convertToAssets(PRICE_PROBE);
            if (p < lastPrice[address(vaults[i])]) priceFell = true;
            lastPrice[address(vaults[i])] = p;
        }
    }

    modifier count(string memory name) {
        ++calls[keccak256(bytes(name))];
        _;
    }

    function actorCount() external view returns (uint256) {
        return actors.length;
    }

    function modelCount() external view returns (uint256) {
        return modelIds.length;
    }

    function _actor(uint256 seed) internal view returns (address, uint256) {
        uint256 i = seed % actors.length;
        return (actors[i], keys[i]);
    }

    function _model(uint256 seed) internal view returns (uint256 index) {
        return seed % modelIds.length;
    }

    // ------------------------------------------------------------------ vault users

    function deposit(uint256 actorSeed, uint256 modelSeed, uint256 assets) external count("deposit") watchPrices {
        (address actor,) = _actor(actorSeed);
        ModelVault v = vaults[_model(modelSeed)];
        if (factory.paused()) return;
        assets = bound(assets, 1, MAX_AMOUNT);
        usd.mint(actor, assets);
        vm.startPrank(actor);
        usd.approve(address(v), assets);
        v.deposit(assets, actor);
        vm.stopPrank();
    }

    function mint(uint256 actorSeed, uint256 modelSeed, uint256 sharesWanted) external count("mint") watchPrices {
        (address actor,) = _actor(actorSeed);
        ModelVault v = vaults[_model(modelSeed)];
        if (factory.paused()) return;
        sharesWanted = bound(sharesWanted, 1, MAX_AMOUNT * 1e6);
        uint256 assets = v.previewMint(sharesWanted);
        usd.mint(actor, assets);
        vm.startPrank(actor);
        usd.approve(address(v), assets);
        v.mint(sharesWanted, actor);
        vm.stopPrank();
    }

    /// @dev Withdrawals must succeed whenever they are within max, paused or not.
    function withdraw(uint256 actorSeed, uint256 modelSeed, uint256 assets) external count("withdraw") watchPrices {
        (address actor,) = _actor(actorSeed);
        ModelVault v = vaults[_model(modelSeed)];
        uint256 max = v.maxWithdraw(actor);
        if (max == 0) return;
        assets = bound(assets, 1, max);
        uint256 released = v.releasedRevenue();
        vm.prank(actor);
        try v.withdraw(assets, actor, actor) {}
        catch {
            withdrawalBlocked = true;
        }
        // The last shares leaving send what is still locked to the model's holders.
        ghostCredited[v.modelId()] += v.releasedRevenue() - released;
    }

    function redeem(uint256 actorSeed, uint256 modelSeed, uint256 sharesOut) external count("redeem") watchPrices {
        (address actor,) = _actor(actorSeed);
        ModelVault v = vaults[_model(modelSeed)];
        uint256 max = v.maxRedeem(actor);
        if (max == 0) return;
        sharesOut = bound(sharesOut, 1, max);
        uint256 released = v.releasedRevenue();
        vm.prank(actor);
        try v.redeem(sharesOut, actor, actor) {}
        catch {
            withdrawalBlocked = true;
        }
        ghostCredited[v.modelId()] += v.releasedRevenue() - released;
    }

    // ------------------------------------------------------------------ settlement

    function payVault(uint256 modelSeed, uint256 amount) external count("payVault") watchPrices {
        ModelVault v = vaults[_model(modelSeed)];
        amount = bound(amount, 0, MAX_AMOUNT);
        if (v.totalSupply() == 0) {
            // An empty vault refuses revenue (Settlement sends that share to the holders instead).
            if (amount != 0) vm.expectRevert(IModelVault.ModelVault_NoShares.selector);
            vm.prank(settlement);
            v.receiveRevenue(amount);
            return;
        }
        usd.mint(address(v), amount);
        vm.prank(settlement);
        v.receiveRevenue(amount);
    }

    function creditHolders(uint256 modelSeed, uint256 amount) external count("creditHolders") watchPrices {
        uint256 id = modelIds[_model(modelSeed)];
        amount = bound(amount, 0, MAX_AMOUNT);
        usd.mint(address(shares), amount);
        vm.prank(settlement);
        shares.creditRevenue(id, amount);
        ghostCredited[id] += amount;
    }

    // ------------------------------------------------------------------ holders

    /// @dev Claims must always succeed, paused or not.
    function claim(uint256 actorSeed, uint256 modelSeed) external count("claim") watchPrices {
        (address actor,) = _actor(actorSeed);
        uint256 id = modelIds[_model(modelSeed)];
        vm.prank(actor);
        try shares.claim(id) returns (uint256 amount) {
            ghostClaimed[id] += amount;
        } catch {
            claimBlocked = true;
        }
    }

    function transferUnits(uint256 fromSeed, uint256 toSeed, uint256 modelSeed, uint256 units)
        external
        count("transferUnits")
        watchPrices
    {
        (address from,) = _actor(fromSeed);
        (address to,) = _actor(toSeed);
        uint256 id = modelIds[_model(modelSeed)];
        uint256 held = shares.unitsOf(id, from);
        if (held == 0 || from == to || shares.paused()) return;
        units = bound(units, 1, held);
        vm.prank(from);
        shares.transferUnits(id, to, units);
        ghostUnits[id][from] -= units;
        ghostUnits[id][to] += units;
    }

    /// @dev A training round for one actor, signed by that actor: a consented change.
    function trainingRound(uint256 actorSeed, uint256 modelSeed, uint256 toUnits)
        external
        count("trainingRound")
        watchPrices
    {
        (address actor, uint256 key) = _actor(actorSeed);
        uint256 index = _model(modelSeed);
        uint256 id = modelIds[index];
        if (shares.paused()) return;
        ICoTrainingShares.UnitsChange[] memory changes = _proposal(id, actor, key, toUnits);
        if (changes.length == 0) return;
        vm.prank(modelOwners[index]);
        shares.applyTrainingRound(id, changes);
        ghostUnits[id][actor] = changes[0].toUnits;
    }

    /// @dev The owner tries to change an actor's units with a signature by someone else (or with
    ///      no owner at all): it must never succeed.
    function forgedRound(uint256 victimSeed, uint256 forgerSeed, uint256 modelSeed, uint256 toUnits, bool asStranger)
        external
        count("forgedRound")
    {
        (address victim,) = _actor(victimSeed);
        (address forger, uint256 forgerKey) = _actor(forgerSeed);
        uint256 index = _model(modelSeed);
        // A key that is not the victim's: the forger's, or a derived one when forger == victim.
        uint256 key = forger == victim ? uint256(keccak256(abi.encode(forgerKey))) % 1e70 + 1 : forgerKey;
        ICoTrainingShares.UnitsChange[] memory changes = _proposal(modelIds[index], victim, key, toUnits);
        if (changes.length == 0) return;
        vm.prank(asStranger ? forger : modelOwners[index]);
        try shares.applyTrainingRound(modelIds[index], changes) {
            unconsentedChangeSucceeded = true;
        } catch {}
    }

    /// @dev A one-account round setting `account`'s units to `toUnits` (bounded), signed with `key`;
    ///      empty when it would change nothing or empty the model.
    function _proposal(uint256 id, address account, uint256 key, uint256 toUnits)
        internal
        returns (ICoTrainingShares.UnitsChange[] memory)
    {
        uint256 fromUnits = shares.unitsOf(id, account);
        uint256 total = shares.totalUnits(id);
        toUnits = bound(toUnits, 0, 1e24);
        if (toUnits == fromUnits || total - fromUnits + toUnits == 0) return new ICoTrainingShares.UnitsChange[](0);
        return _change(id, account, key, fromUnits, toUnits, total - fromUnits + toUnits);
    }

    function _change(uint256 id, address account, uint256 key, uint256 fromUnits, uint256 toUnits, uint256 total)
        internal
        returns (ICoTrainingShares.UnitsChange[] memory changes)
    {
        uint256 n = nonce++;
        uint256 deadline = block.timestamp + 1 hours;
        bytes32 digest = shares.unitsChangeConsentDigest(id, account, fromUnits, toUnits, total, n, deadline);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        changes = new ICoTrainingShares.UnitsChange[](1);
        changes[0] = ICoTrainingShares.UnitsChange({
            account: account, toUnits: toUnits, nonce: n, deadline: deadline, signature: abi.encodePacked(r, s, v)
        });
    }

    // ------------------------------------------------------------------ attacker and environment

    /// @dev Tokens sent straight to a contract, as an attacker trying to move prices would.
    function donate(uint256 targetSeed, uint256 amount) external count("donate") watchPrices {
        amount = bound(amount, 1, MAX_AMOUNT);
        uint256 t = targetSeed % (vaults.length + 1);
        if (t == vaults.length) {
            usd.mint(address(shares), amount);
            ghostDonatedToShares += amount;
        } else {
            usd.mint(address(vaults[t]), amount);
            ghostDonatedToVault[address(vaults[t])] += amount;
        }
    }

    function warp(uint256 seconds_) external count("warp") watchPrices {
        vm.warp(block.timestamp + bound(seconds_, 1, 3 days));
    }

    function togglePause(uint256 seed) external count("togglePause") watchPrices {
        vm.startPrank(admin);
        if (seed % 2 == 0) {
            if (factory.paused()) factory.unpause();
            else factory.pause();
        } else {
            if (shares.paused()) shares.unpause();
            else shares.pause();
        }
        vm.stopPrank();
    }
}
