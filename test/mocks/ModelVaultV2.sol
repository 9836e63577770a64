// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {ModelVault} from "../../contracts/ModelVault.sol";

/// @notice A next version of ModelVault for upgrade tests: same storage, one new function.
/// @custom:oz-upgrades-from ModelVault
contract ModelVaultV2 is ModelVault {
    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() ModelVault() {}

    function version() external pure returns (string memory) {
        return "2";
    }
}
