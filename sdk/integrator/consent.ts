/**
 * Contributor consent (docs/protocol/typed-data.md, "Contributor consent"): the EIP-712
 * `RegistrationConsent` a contributor signs to be listed in a model with its share units, and
 * the `UnitsChangeConsent` of a training round. The registrant writes a ConsentRequest per
 * contributor, each contributor signs its own (`signRegistrationConsent`), and the registrant
 * assembles the signed consents into the contract's contributors list (`assembleContributors`).
 */
import {
  type Account,
  type Address,
  bytesToBigInt,
  getAddress,
  type Hex,
  hashTypedData,
  isAddressEqual,
  recoverTypedDataAddress,
} from "viem";
import { InvalidArgumentError } from "../errors";

export const registrationConsentTypes = {
  RegistrationConsent: [
    { name: "registrant", type: "address" },
    { name: "adapterHash", type: "bytes32" },
    { name: "contributor", type: "address" },
    { name: "units", type: "uint256" },
    { name: "totalUnits", type: "uint256" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
} as const;

export const unitsChangeConsentTypes = {
  UnitsChangeConsent: [
    { name: "modelId", type: "uint256" },
    { name: "account", type: "address" },
    { name: "fromUnits", type: "uint256" },
    { name: "toUnits", type: "uint256" },
    { name: "totalUnits", type: "uint256" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
} as const;

export function coTrainingSharesDomain(chainId: number, verifyingContract: Address) {
  return { name: "OpenLoRA CoTrainingShares", version: "1", chainId, verifyingContract } as const;
}

/** What a contributor is asked to sign: everything the contract binds, plus where. */
export interface ConsentRequest {
  chainId: number;
  /** The CoTrainingShares proxy. */
  shares: Address;
  registrant: Address;
  adapterHash: Hex;
  contributor: Address;
  units: bigint;
  totalUnits: bigint;
  nonce: bigint;
  /** Unix seconds after which the consent is void. */
  deadline: bigint;
}

export interface SignedConsent {
  request: ConsentRequest;
  signature: Hex;
}

/** One entry of `registerModel`'s contributors list (ICoTrainingShares.ContributorConsent). */
export interface ContributorConsent {
  account: Address;
  units: bigint;
  nonce: bigint;
  deadline: bigint;
  signature: Hex;
}

export interface UnitsChangeRequest {
  chainId: number;
  shares: Address;
  modelId: bigint;
  account: Address;
  fromUnits: bigint;
  toUnits: bigint;
  totalUnits: bigint;
  nonce: bigint;
  deadline: bigint;
}

/** A fresh unordered nonce: 256 random bits (the contract accepts any unused uint256). */
export function randomNonce(): bigint {
  return bytesToBigInt(crypto.getRandomValues(new Uint8Array(32)));
}

function registrationTypedData(request: ConsentRequest) {
  return {
    domain: coTrainingSharesDomain(request.chainId, request.shares),
    types: registrationConsentTypes,
    primaryType: "RegistrationConsent",
    message: {
      registrant: request.registrant,
      adapterHash: request.adapterHash,
      contributor: request.contributor,
      units: request.units,
      totalUnits: request.totalUnits,
      nonce: request.nonce,
      deadline: request.deadline,
    },
  } as const;
}

/** The EIP-712 digest of a registration consent (equal to the contract's registrationConsentDigest). */
export function registrationConsentDigest(request: ConsentRequest): Hex {
  return hashTypedData(registrationTypedData(request));
}

/**
 * The contributor's side: signs its consent to the request. Refuses to sign for another address,
 * or units that are not a part of the total: a contributor agrees to a fraction, not a number.
 */
export async function signRegistrationConsent(
  account: Account,
  request: ConsentRequest,
): Promise<SignedConsent> {
  if (!account.signTypedData) throw new InvalidArgumentError("this account cannot sign typed data");
  if (!isAddressEqual(account.address, request.contributor)) {
    throw new InvalidArgumentError(
      `the consent is for ${request.contributor}, not for the signer ${account.address}`,
      {
        contributor: request.contributor,
        signer: account.address,
      },
    );
  }
  checkUnits(request.units, request.totalUnits);
  const signature = await account.signTypedData(registrationTypedData(request));
  return { request, signature };
}

/** Whether `signature` is `request.contributor`'s consent to exactly this request (EOA signers). */
export async function verifyRegistrationConsent(consent: SignedConsent): Promise<boolean> {
  const signer = await recoverTypedDataAddress({
    ...registrationTypedData(consent.request),
    signature: consent.signature,
  }).catch(() => null);
  return signer !== null && isAddressEqual(signer, consent.request.contributor);
}

function checkUnits(units: bigint, totalUnits: bigint) {
  if (units <= 0n || units > totalUnits) {
    throw new InvalidArgumentError(`units must be between 1 and the total ${totalUnits}, got ${units}`, {
      units,
      totalUnits,
    });
  }
}

export interface ContributorShare {
  account: Address;
  units: bigint;
}

export interface ConsentRequestOptions {
  chainId: number;
  shares: Address;
  registrant: Address;
  adapterHash: Hex;
  contributors: readonly ContributorShare[];
  /** Unix seconds; default: one day from now. */
  deadline?: bigint;
}

/**
 * The registrant's side, step 1: one consent request per contributor other than the registrant
 * (whose entry needs no signature), binding the total of all units. Rejects duplicate accounts
 * and zero units.
 */
export function consentRequests(options: ConsentRequestOptions): ConsentRequest[] {
  const total = totalOf(options.contributors);
  const deadline = options.deadline ?? BigInt(Math.floor(Date.now() / 1000) + 86_400);
  return options.contributors
    .filter((c) => !isAddressEqual(c.account, options.registrant))
    .map((c) => ({
      chainId: options.chainId,
      shares: getAddress(options.shares),
      registrant: getAddress(options.registrant),
      adapterHash: options.adapterHash,
      contributor: getAddress(c.account),
      units: c.units,
      totalUnits: total,
      nonce: randomNonce(),
      deadline,
    }));
}

function totalOf(contributors: readonly ContributorShare[]): bigint {
  if (contributors.length === 0) throw new InvalidArgumentError("a model needs at least one contributor");
  const seen = new Set<string>();
  let total = 0n;
  for (const c of contributors) {
    const key = c.account.toLowerCase();
    if (seen.has(key))
      throw new InvalidArgumentError(`contributor ${c.account} is listed twice`, { account: c.account });
    seen.add(key);
    if (c.units <= 0n)
      throw new InvalidArgumentError(`contributor ${c.account} has no units`, { account: c.account });
    total += c.units;
  }
  return total;
}

/**
 * The registrant's side, step 2: the contract's contributors list, sorted by address, with every
 * signed consent checked against the shares (each must be the contributor's, bind this
 * registrant, adapter and total, and not be expired). The registrant's own entry goes unsigned.
 */
export async function assembleContributors(options: {
  registrant: Address;
  adapterHash: Hex;
  contributors: readonly ContributorShare[];
  consents: readonly SignedConsent[];
  /** Unix seconds to check deadlines against; default: now. */
  now?: bigint;
}): Promise<ContributorConsent[]> {
  const total = totalOf(options.contributors);
  const now = options.now ?? BigInt(Math.floor(Date.now() / 1000));
  const entries: ContributorConsent[] = [];
  for (const c of options.contributors) {
    if (isAddressEqual(c.account, options.registrant)) {
      entries.push({
        account: getAddress(c.account),
        units: c.units,
        nonce: 0n,
        deadline: 0n,
        signature: "0x",
      });
      continue;
    }
    const consent = options.consents.find((s) => isAddressEqual(s.request.contributor, c.account));
    if (!consent) {
      throw new InvalidArgumentError(`no signed consent from contributor ${c.account}`, {
        account: c.account,
      });
    }
    const r = consent.request;
    const problems: string[] = [];
    if (!isAddressEqual(r.registrant, options.registrant)) problems.push("it names another registrant");
    if (r.adapterHash.toLowerCase() !== options.adapterHash.toLowerCase())
      problems.push("it is for another adapter");
    if (r.units !== c.units) problems.push(`it agrees to ${r.units} units, not ${c.units}`);
    if (r.totalUnits !== total) problems.push(`it agrees to a total of ${r.totalUnits}, not ${total}`);
    if (r.deadline < now) problems.push("it has expired");
    if (!(await verifyRegistrationConsent(consent))) problems.push("its signature is not the contributor's");
    if (problems.length > 0) {
      throw new InvalidArgumentError(`the consent of ${c.account} does not fit: ${problems.join(", ")}`, {
        account: c.account,
        problems,
      });
    }
    entries.push({
      account: getAddress(c.account),
      units: c.units,
      nonce: r.nonce,
      deadline: r.deadline,
      signature: consent.signature,
    });
  }
  return entries.sort((a, b) => (BigInt(a.account) < BigInt(b.account) ? -1 : 1));
}

function unitsChangeTypedData(request: UnitsChangeRequest) {
  return {
    domain: coTrainingSharesDomain(request.chainId, request.shares),
    types: unitsChangeConsentTypes,
    primaryType: "UnitsChangeConsent",
    message: {
      modelId: request.modelId,
      account: request.account,
      fromUnits: request.fromUnits,
      toUnits: request.toUnits,
      totalUnits: request.totalUnits,
      nonce: request.nonce,
      deadline: request.deadline,
    },
  } as const;
}

/** The EIP-712 digest of a training-round consent (equal to the contract's unitsChangeConsentDigest). */
export function unitsChangeConsentDigest(request: UnitsChangeRequest): Hex {
  return hashTypedData(unitsChangeTypedData(request));
}

/** An account's consent to its units changing in a training round. */
export async function signUnitsChangeConsent(account: Account, request: UnitsChangeRequest): Promise<Hex> {
  if (!account.signTypedData) throw new InvalidArgumentError("this account cannot sign typed data");
  if (!isAddressEqual(account.address, request.account)) {
    throw new InvalidArgumentError(
      `the consent is for ${request.account}, not for the signer ${account.address}`,
    );
  }
  return account.signTypedData(unitsChangeTypedData(request));
}

/** JSON form of a signed consent (bigints as decimal strings), for passing between parties. */
export function consentToJson(consent: SignedConsent): Record<string, unknown> {
  const r = consent.request;
  return {
    chainId: r.chainId,
    shares: r.shares,
    registrant: r.registrant,
    adapterHash: r.adapterHash,
    contributor: r.contributor,
    units: r.units.toString(),
    totalUnits: r.totalUnits.toString(),
    nonce: r.nonce.toString(),
    deadline: r.deadline.toString(),
    signature: consent.signature,
  };
}

/** Reads the JSON form back, validating every field. */
export function consentFromJson(value: unknown): SignedConsent {
  const v = (value ?? {}) as Record<string, unknown>;
  const str = (key: string, pattern: RegExp): string => {
    const field = v[key];
    if (typeof field !== "string" || !pattern.test(field)) {
      throw new InvalidArgumentError(`signed consent: ${key} is missing or malformed`, { field: key });
    }
    return field;
  };
  const uint = /^\d+$/;
  const address = /^0x[0-9a-fA-F]{40}$/;
  if (typeof v.chainId !== "number" || !Number.isInteger(v.chainId)) {
    throw new InvalidArgumentError("signed consent: chainId is missing or malformed", { field: "chainId" });
  }
  return {
    request: {
      chainId: v.chainId,
      shares: getAddress(str("shares", address)),
      registrant: getAddress(str("registrant", address)),
      adapterHash: str("adapterHash", /^0x[0-9a-fA-F]{64}$/) as Hex,
      contributor: getAddress(str("contributor", address)),
      units: BigInt(str("units", uint)),
      totalUnits: BigInt(str("totalUnits", uint)),
      nonce: BigInt(str("nonce", uint)),
      deadline: BigInt(str("deadline", uint)),
    },
    signature: str("signature", /^0x[0-9a-fA-F]+$/) as Hex,
  };
}
