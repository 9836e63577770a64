// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

/// @title ConsentTypes
/// @notice EIP-712 struct hashes of the consents that co-training share holders sign. The domain is
///         the CoTrainingShares proxy's (`name = "OpenLoRA CoTrainingShares"`, `version = "1"`,
///         chain id, verifying contract); docs/protocol/typed-data.md lists the same types for the SDK.
library ConsentTypes {
    /// @notice Consent to be listed as a contributor of the adapter `adapterHash`, registered by
    ///         `registrant`, with `units` out of the model's `totalUnits`.
    bytes32 internal constant REGISTRATION_CONSENT_TYPEHASH = keccak256(
        "RegistrationConsent(address registrant,bytes32 adapterHash,address contributor,uint256 units,uint256 totalUnits,uint256 nonce,uint256 deadline)"
    );

    /// @notice Consent to `account`'s units in `modelId` going from `fromUnits` to `toUnits` in a
    ///         training round after which the model has `totalUnits`.
    bytes32 internal constant UNITS_CHANGE_CONSENT_TYPEHASH = keccak256(
        "UnitsChangeConsent(uint256 modelId,address account,uint256 fromUnits,uint256 toUnits,uint256 totalUnits,uint256 nonce,uint256 deadline)"
    );

    function hashRegistrationConsent(
        address registrant,
        bytes32 adapterHash,
        address contributor,
        uint256 units,
        uint256 totalUnits,
        uint256 nonce,
        uint256 deadline
    ) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(
                REGISTRATION_CONSENT_TYPEHASH, registrant, adapterHash, contributor, units, totalUnits, nonce, deadline
            )
        );
    }

    function hashUnitsChangeConsent(
        uint256 modelId,
        address account,
        uint256 fromUnits,
        uint256 toUnits,
        uint256 totalUnits,
        uint256 nonce,
        uint256 deadline
    ) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(UNITS_CHANGE_CONSENT_TYPEHASH, modelId, account, fromUnits, toUnits, totalUnits, nonce, deadline)
        );
    }
}
