// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {ModelVaultFactory} from "../../contracts/ModelVaultFactory.sol";

/// @notice A next version of ModelVaultFactory for upgrade tests: same storage, one new function.
/// @custom:oz-upgrades-from ModelVaultFactory
contract ModelVaultFactoryV2 is ModelVaultFactory {
    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() ModelVaultFactory() {}

    function version() external pure returns (string memory) {
        return "2";
    }
}
