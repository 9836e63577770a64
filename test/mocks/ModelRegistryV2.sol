// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {ModelRegistry} from "../../contracts/ModelRegistry.sol";

/// @notice A next version of ModelRegistry for upgrade tests: same storage, one new function.
/// @custom:oz-upgrades-from ModelRegistry
contract ModelRegistryV2 is ModelRegistry {
    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() ModelRegistry() {}

    function version() external pure returns (string memory) {
        return "2";
    }
}
