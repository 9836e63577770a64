// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

/// @title TestUSD
/// @notice The payment asset of local and test chains: a 6-decimal dollar token with EIP-2612
///         permit, minted by its owner to fund devnet accounts. On a real chain the protocol is
///         deployed against an existing stablecoin instead.
contract TestUSD is ERC20, ERC20Permit, Ownable {
    constructor(address initialOwner)
        ERC20("OpenLoRA Test USD", "tUSD")
        ERC20Permit("OpenLoRA Test USD")
        Ownable(initialOwner)
    {}

    /// @inheritdoc ERC20
    function decimals() public pure override returns (uint8) {
        return 6;
    }

    /// @notice Mints `amount` to `to`. Only the owner (the devnet deployer) may mint.
    function mint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }
}
