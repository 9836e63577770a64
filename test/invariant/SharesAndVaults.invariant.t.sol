// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {ModelVault} from "../../contracts/ModelVault.sol";
import {ProtocolFixture} from "../utils/ProtocolFixture.sol";
import {ProtocolHandler} from "./handlers/ProtocolHandler.sol";

/// @notice Invariants of the co-training shares and the model vaults under actors, Settlement,
///         donations, pauses and the passing of time.
contract SharesAndVaultsInvariantTest is ProtocolFixture {
    ProtocolHandler internal handler;
    Signer[] internal actors;
    uint256[] internal modelIds;

    function setUp() public override {
        super.setUp();
        string[5] memory names = ["a0", "a1", "a2", "a3", "a4"];
        for (uint256 i; i < names.length; ++i) {
            actors.push(_signer(names[i]));
        }
        // model A: owner a0, contributors a0 a1 a2; model B: owner a1, contributors a1 a3 a4.
        modelIds.push(_registerOf(0, [uint256(0), 1, 2], [uint256(5e18), 3e18, 2e18], keccak256("A")));
        modelIds.push(_registerOf(1, [uint256(1), 3, 4], [uint256(1), 1, 1], keccak256("B")));

        address[] memory addrs = new address[](actors.length);
        uint256[] memory keys = new uint256[](actors.length);
        for (uint256 i; i < actors.length; ++i) {
            addrs[i] = actors[i].addr;
            keys[i] = actors[i].key;
        }
        address[] memory owners = new address[](2);
        owners[0] = actors[0].addr;
        owners[1] = actors[1].addr;
        handler = new ProtocolHandler(usd, shares, factory, settlement, admin, addrs, keys, modelIds, owners);
        // The handler mints test tokens.
        usd.transferOwnership(address(handler));
        targetContract(address(handler));
    }

    function _registerOf(uint256 owner, uint256[3] memory who, uint256[3] memory units, bytes32 adapter)
        internal
        returns (uint256 modelId)
    {
        Signer[] memory signers = new Signer[](3);
        uint256[] memory u = new uint256[](3);
        for (uint256 i; i < 3; ++i) {
            signers[i] = actors[who[i]];
            u[i] = units[i];
        }
        (modelId,) = _register(actors[owner].addr, adapter, signers, u);
    }

    /// (a) The asset held by the shares contract and the vaults equals what they owe (unclaimed
    ///     rewards, vault deposits and revenue) plus what was donated to them, never less.
    function invariant_A_AssetsCoverLiabilities() public view {
        assertEq(usd.balanceOf(address(shares)), shares.totalOwed() + handler.ghostDonatedToShares());
        for (uint256 i; i < modelIds.length; ++i) {
            ModelVault v = ModelVault(handler.vaults(i));
            assertEq(usd.balanceOf(address(v)), v.accountedAssets() + handler.ghostDonatedToVault(address(v)));
            assertEq(v.accountedAssets(), v.totalAssets() + v.lockedRevenue());
        }
    }

    /// (b) What holders can claim plus what they claimed never exceeds what was credited to them.
    function invariant_B_ClaimsNeverExceedCredited() public view {
        for (uint256 m; m < modelIds.length; ++m) {
            uint256 id = modelIds[m];
            uint256 claimable;
            for (uint256 i; i < actors.length; ++i) {
                claimable += shares.claimable(id, actors[i].addr);
            }
            assertEq(shares.totalCredited(id), handler.ghostCredited(id));
            assertEq(shares.totalClaimed(id), handler.ghostClaimed(id));
            assertLe(claimable + shares.totalClaimed(id), shares.totalCredited(id));
        }
        assertFalse(handler.claimBlocked(), "a claim reverted");
    }

    /// (c) A vault's share price never falls: not from revenue, time, deposits, withdrawals or donations.
    function invariant_C_SharePriceNeverFalls() public view {
        assertFalse(handler.priceFell());
    }

    /// (d) Units of a model never change without the consent of the accounts whose units change.
    function invariant_D_UnitsChangeOnlyWithConsent() public view {
        assertFalse(handler.unconsentedChangeSucceeded());
        for (uint256 m; m < modelIds.length; ++m) {
            uint256 id = modelIds[m];
            uint256 sum;
            for (uint256 i; i < actors.length; ++i) {
                uint256 units = shares.unitsOf(id, actors[i].addr);
                assertEq(units, handler.ghostUnits(id, actors[i].addr));
                sum += units;
            }
            assertEq(shares.totalUnits(id), sum);
            assertGt(sum, 0);
        }
    }

    /// (e) Withdrawals of owned funds never revert, paused or not.
    function invariant_E_WithdrawalsNeverBlocked() public view {
        assertFalse(handler.withdrawalBlocked());
    }

    /// (f) A vault with no shares holds no locked revenue: nothing waits there for a first depositor.
    function invariant_F_EmptyVaultHoldsNoLockedRevenue() public view {
        for (uint256 i; i < modelIds.length; ++i) {
            ModelVault v = ModelVault(handler.vaults(i));
            if (v.totalSupply() == 0) assertEq(v.lockedRevenue(), 0);
        }
    }
}
