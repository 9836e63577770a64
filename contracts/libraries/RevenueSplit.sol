// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

/// @title RevenueSplit
/// @notice How a model's settled revenue is divided. The SDK mirrors this math off-chain
///         (sdk/math/revenueSplit.ts) and a differential test keeps the two equal.
/// @dev Fees are taken from the gross amount; the vault share applies to what remains after
///      fees; the holders get the rest, so the four parts always add up to the amount exactly
///      and every rounding remainder goes to the holders. A vault with no shares takes no revenue
///      ({effectiveVaultShareBps}): its share goes to the holders, decided at settlement.
library RevenueSplit {
    uint256 internal constant BPS = 10_000;

    /// @notice The fee rates passed in exceed 100% in total.
    error RevenueSplit_FeesTooHigh(uint256 protocolFeeBps, uint256 runnerFeeBps);
    /// @notice A vault share above 100% was passed in.
    error RevenueSplit_VaultShareTooHigh(uint256 vaultShareBps);

    struct Parts {
        uint256 protocolFee;
        uint256 runnerFee;
        uint256 vault;
        uint256 holders;
    }

    /// @notice The vault share that applies to a settlement: the model's `vaultShareBps` while its
    ///         vault has shares (`vaultSupply` > 0), none otherwise, so that revenue never waits in
    ///         an empty vault for whoever deposits first.
    function effectiveVaultShareBps(uint256 vaultShareBps, uint256 vaultSupply) internal pure returns (uint256) {
        return vaultSupply == 0 ? 0 : vaultShareBps;
    }

    /// @notice Splits `amount` into protocol fee, runner fee, vault share and holders' share.
    function split(uint256 amount, uint256 protocolFeeBps, uint256 runnerFeeBps, uint256 vaultShareBps)
        internal
        pure
        returns (Parts memory parts)
    {
        if (protocolFeeBps + runnerFeeBps > BPS) revert RevenueSplit_FeesTooHigh(protocolFeeBps, runnerFeeBps);
        if (vaultShareBps > BPS) revert RevenueSplit_VaultShareTooHigh(vaultShareBps);
        parts.protocolFee = amount * protocolFeeBps / BPS;
        parts.runnerFee = amount * runnerFeeBps / BPS;
        // Cannot underflow: each fee rounds down and the two rates add up to at most BPS.
        uint256 net = amount - parts.protocolFee - parts.runnerFee;
        parts.vault = net * vaultShareBps / BPS;
        parts.holders = net - parts.vault;
    }
}
