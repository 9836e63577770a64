/**
 * The payment asset (an ERC-20 with EIP-2612 permit, TestUSD on a devnet): balances, allowances
 * and permit signatures for the contracts that pull funds (channels, vaults, runner bonds).
 */
import { type Address, erc20Abi, type Hex, parseSignature } from "viem";
import { call, chainTime, type OpenLoRAClient, sendTx, signer } from "./client";
import { InvalidArgumentError } from "./errors";
import { testUsdAbi } from "./generated/abis";

export interface TokenInfo {
  address: Address;
  symbol: string;
  decimals: number;
}

const asset = (client: OpenLoRAClient) =>
  ({ address: client.deployment.paymentAsset, abi: testUsdAbi }) as const;

export async function tokenInfo(client: OpenLoRAClient): Promise<TokenInfo> {
  const [symbol, decimals] = await call(client, "paymentAsset.symbol/decimals", () =>
    Promise.all([
      client.publicClient.readContract({ ...asset(client), functionName: "symbol" }),
      client.publicClient.readContract({ ...asset(client), functionName: "decimals" }),
    ]),
  );
  return { address: client.deployment.paymentAsset, symbol, decimals };
}

export async function balanceOf(client: OpenLoRAClient, account: Address): Promise<bigint> {
  return call(client, "paymentAsset.balanceOf", () =>
    client.publicClient.readContract({ ...asset(client), functionName: "balanceOf", args: [account] }),
  );
}

/** Approves `spender` for `amount` unless the allowance already covers it; returns the tx hash if one was sent. */
export async function ensureAllowance(
  client: OpenLoRAClient,
  spender: Address,
  amount: bigint,
): Promise<Hex | null> {
  const owner = signer(client, "approve").address;
  const allowance = await call(client, "paymentAsset.allowance", () =>
    client.publicClient.readContract({ ...asset(client), functionName: "allowance", args: [owner, spender] }),
  );
  if (allowance >= amount) return null;
  const { hash } = await sendTx(client, "paymentAsset.approve", {
    address: client.deployment.paymentAsset,
    abi: erc20Abi,
    functionName: "approve",
    args: [spender, amount],
  });
  return hash;
}

export interface PermitSignature {
  deadline: bigint;
  v: number;
  r: Hex;
  s: Hex;
}

/**
 * Signs an EIP-2612 permit of the client's account for `spender` and `value`, under the token's
 * own EIP-712 domain (read with ERC-5267 `eip712Domain()`).
 */
export async function signPermit(
  client: OpenLoRAClient,
  spender: Address,
  value: bigint,
  deadline?: bigint,
): Promise<PermitSignature> {
  const account = signer(client, "permit");
  if (!account.signTypedData) throw new InvalidArgumentError("this account cannot sign typed data");
  const [domain, nonce] = await call(client, "paymentAsset.eip712Domain/nonces", () =>
    Promise.all([
      client.publicClient.readContract({ ...asset(client), functionName: "eip712Domain" }),
      client.publicClient.readContract({ ...asset(client), functionName: "nonces", args: [account.address] }),
    ]),
  );
  const [, name, version, chainId, verifyingContract] = domain;
  const until = deadline ?? (await chainTime(client)) + 3_600n;
  const signature = await account.signTypedData({
    domain: { name, version, chainId: Number(chainId), verifyingContract },
    types: {
      Permit: [
        { name: "owner", type: "address" },
        { name: "spender", type: "address" },
        { name: "value", type: "uint256" },
        { name: "nonce", type: "uint256" },
        { name: "deadline", type: "uint256" },
      ],
    },
    primaryType: "Permit",
    message: { owner: account.address, spender, value, nonce, deadline: until },
  });
  const { r, s, v, yParity } = parseSignature(signature);
  return { deadline: until, v: Number(v ?? BigInt(yParity + 27)), r, s };
}

/** Mints TestUSD (devnet only: the deployer owns the token). */
export async function mintTestUsd(client: OpenLoRAClient, to: Address, amount: bigint): Promise<Hex> {
  const { hash } = await sendTx(client, "TestUSD.mint", {
    ...asset(client),
    functionName: "mint",
    args: [to, amount],
  });
  return hash;
}

/** Sends `amount` of the payment asset to `to`. */
export async function transfer(client: OpenLoRAClient, to: Address, amount: bigint): Promise<Hex> {
  const { hash } = await sendTx(client, "paymentAsset.transfer", {
    address: client.deployment.paymentAsset,
    abi: erc20Abi,
    functionName: "transfer",
    args: [to, amount],
  });
  return hash;
}

/** Parses a decimal amount ("12.5") into base units; rejects more decimals than the token has. */
export function parseAmount(text: string, decimals: number): bigint {
  const match = /^(\d+)(?:\.(\d+))?$/.exec(text.trim());
  if (!match) throw new InvalidArgumentError(`not an amount: "${text}" (expected e.g. 12.5)`);
  const fraction = match[2] ?? "";
  if (fraction.length > decimals) {
    throw new InvalidArgumentError(`"${text}" has more than ${decimals} decimals`);
  }
  return BigInt(match[1] as string) * 10n ** BigInt(decimals) + BigInt(fraction.padEnd(decimals, "0") || "0");
}

/** Formats base units as a decimal amount, trimming trailing zeros ("12.5"). */
export function formatAmount(value: bigint, decimals: number): string {
  const negative = value < 0n;
  const abs = negative ? -value : value;
  const unit = 10n ** BigInt(decimals);
  const whole = abs / unit;
  const fraction = (abs % unit).toString().padStart(decimals, "0").replace(/0+$/, "");
  return `${negative ? "-" : ""}${whole}${fraction ? `.${fraction}` : ""}`;
}
