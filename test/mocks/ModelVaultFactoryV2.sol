// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {ModelVaultFactory} from "../../contracts/ModelVaultFactory.sol";

/// @notice A next version of ModelVaultFactory for upgrade tests: same storage, one new function.
/// @dev It adds no state, so it needs no initializer of its own: proxies keep the V1 initialization
///      (the validator otherwise asks for one because V1's parents take initializer arguments).
/// @custom:oz-upgrades-from ModelVaultFactory
/// @custom:oz-upgrades-unsafe-allow missing-initializer
contract ModelVaultFactoryV2 is ModelVaultFactory {
    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() ModelVaultFactory() {}

    function version() external pure returns (string memory) {
        return "2";
    }
}
