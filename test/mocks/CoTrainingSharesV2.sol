// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {CoTrainingShares} from "../../contracts/CoTrainingShares.sol";

/// @notice A next version of CoTrainingShares for upgrade tests: same storage, one new function.
/// @custom:oz-upgrades-from CoTrainingShares
contract CoTrainingSharesV2 is CoTrainingShares {
    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() CoTrainingShares() {}

    function version() external pure returns (string memory) {
        return "2";
    }
}
