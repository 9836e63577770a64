// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {TestUSD} from "../../contracts/devnet/TestUSD.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Test} from "forge-std/Test.sol";

contract TestUSDTest is Test {
    address internal owner = makeAddr("owner");
    TestUSD internal token = new TestUSD(owner);

    function test_Decimals_AreSix() public view {
        assertEq(token.decimals(), 6);
    }

    function testFuzz_Mint_ByOwnerCreditsRecipient(address to, uint256 amount) public {
        vm.assume(to != address(0));
        vm.prank(owner);
        token.mint(to, amount);
        assertEq(token.balanceOf(to), amount);
        assertEq(token.totalSupply(), amount);
    }

    function test_Mint_RevertWhen_CallerIsNotOwner() public {
        address stranger = makeAddr("stranger");
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        vm.prank(stranger);
        token.mint(stranger, 1);
    }
}
