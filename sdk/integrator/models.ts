/**
 * Protocol integrators: register base models and adapters (with their contributors' consent),
 * and read a model's provenance, contributors, usage and vault.
 */
import { type Account, type Address, type Hex, isAddressEqual } from "viem";
import { call, chainTime, eventsOf, type OpenLoRAClient, sendTx, signer } from "../client";
import { InvalidArgumentError } from "../errors";
import { coTrainingSharesAbi, modelRegistryAbi, settlementAbi } from "../generated/abis";
import {
  assembleContributors,
  type ContributorConsent,
  type ContributorShare,
  consentRequests,
  randomNonce,
  type SignedConsent,
  signRegistrationConsent,
  signUnitsChangeConsent,
} from "./consent";

export const MODEL_STATUS = ["none", "active", "paused", "retired"] as const;
export type ModelStatus = (typeof MODEL_STATUS)[number];

export interface BaseModelInfo {
  baseModelId: bigint;
  owner: Address;
  registeredAt: bigint;
  contentHash: Hex;
  metadataURI: string;
}

export interface ModelInfo {
  modelId: bigint;
  owner: Address;
  trainer: Address;
  status: ModelStatus;
  registeredAt: bigint;
  vault: Address;
  adapterHash: Hex;
  baseModelId: bigint;
  parentModelId: bigint;
  pricePerCall: bigint;
  vaultShareBps: number;
  totalCalls: bigint;
  totalRevenue: bigint;
  metadataURI: string;
  datasetHashes: Hex[];
}

export interface ContributorUnits {
  account: Address;
  units: bigint;
}

export interface Provenance {
  model: ModelInfo;
  baseModel: BaseModelInfo;
  /** Share units per holder, largest first. */
  contributors: ContributorUnits[];
  totalUnits: bigint;
  /** Earlier versions, from the direct parent back to the first. */
  lineage: bigint[];
  /** Later versions registered on top of this one. */
  versions: bigint[];
  /** Training rounds applied after registration. */
  rounds: bigint;
}

const registry = (client: OpenLoRAClient) =>
  ({ address: client.deployment.modelRegistry, abi: modelRegistryAbi }) as const;
const shares = (client: OpenLoRAClient) =>
  ({ address: client.deployment.coTrainingShares, abi: coTrainingSharesAbi }) as const;

// ------------------------------------------------------------------ base models

/** Registers a base model (content hash of its file); the caller owns it. */
export async function registerBaseModel(
  client: OpenLoRAClient,
  params: { contentHash: Hex; metadataURI: string },
): Promise<{ baseModelId: bigint; hash: Hex }> {
  const { hash, receipt } = await sendTx(client, "ModelRegistry.registerBaseModel", {
    ...registry(client),
    functionName: "registerBaseModel",
    args: [params.contentHash, params.metadataURI],
  });
  const [event] = eventsOf(receipt, modelRegistryAbi, "BaseModelRegistered", client.deployment.modelRegistry);
  return { baseModelId: event?.args.baseModelId as bigint, hash };
}

/** The base model with this content hash, registering it first if it is not yet. */
export async function ensureBaseModel(
  client: OpenLoRAClient,
  params: { contentHash: Hex; metadataURI: string },
): Promise<{ baseModelId: bigint; registered: boolean }> {
  const existing = await call(client, "ModelRegistry.baseModelIdByContentHash", () =>
    client.publicClient.readContract({
      ...registry(client),
      functionName: "baseModelIdByContentHash",
      args: [params.contentHash],
    }),
  );
  if (existing !== 0n) return { baseModelId: existing, registered: false };
  return { ...(await registerBaseModel(client, params)), registered: true };
}

export async function getBaseModel(client: OpenLoRAClient, baseModelId: bigint): Promise<BaseModelInfo> {
  const b = await call(client, "ModelRegistry.getBaseModel", () =>
    client.publicClient.readContract({
      ...registry(client),
      functionName: "getBaseModel",
      args: [baseModelId],
    }),
  );
  return { baseModelId, ...b };
}

// ------------------------------------------------------------------ adapters

export interface ModelParams {
  /** Who trained it: the registrant or one of the consenting contributors (default: the registrant). */
  trainer?: Address;
  adapterHash: Hex;
  baseModelId: bigint;
  /** The model this is a new version of (owned by the registrant), or 0. */
  parentModelId?: bigint;
  /** Payment-asset base units per call. */
  pricePerCall: bigint;
  /** Share of net revenue for the model's vault, in bps (0 to 10,000). */
  vaultShareBps: number;
  metadataURI: string;
  datasetHashes: readonly Hex[];
}

export interface RegisteredModel {
  modelId: bigint;
  vault: Address;
  hash: Hex;
}

/**
 * Registers an adapter with its contributors list (as `assembleContributors` builds it, sorted by
 * address, every entry but the registrant's signed). The caller becomes the owner.
 */
export async function registerModel(
  client: OpenLoRAClient,
  params: ModelParams,
  contributors: readonly ContributorConsent[],
): Promise<RegisteredModel> {
  const registrant = signer(client, "ModelRegistry.registerModel").address;
  if (params.vaultShareBps < 0 || params.vaultShareBps > 10_000 || !Number.isInteger(params.vaultShareBps)) {
    throw new InvalidArgumentError(
      `the vault share must be an integer from 0 to 10000 bps, got ${params.vaultShareBps}`,
    );
  }
  if (params.pricePerCall < 0n) throw new InvalidArgumentError("the price per call cannot be negative");
  const { hash, receipt } = await sendTx(client, "ModelRegistry.registerModel", {
    ...registry(client),
    functionName: "registerModel",
    args: [
      {
        trainer: params.trainer ?? registrant,
        adapterHash: params.adapterHash,
        baseModelId: params.baseModelId,
        parentModelId: params.parentModelId ?? 0n,
        pricePerCall: params.pricePerCall,
        vaultShareBps: params.vaultShareBps,
        metadataURI: params.metadataURI,
        datasetHashes: [...params.datasetHashes],
      },
      [...contributors],
    ],
  });
  const [event] = eventsOf(receipt, modelRegistryAbi, "ModelRegistered", client.deployment.modelRegistry);
  return { modelId: event?.args.modelId as bigint, vault: event?.args.vault as Address, hash };
}

/**
 * Registration in one call when the registrant holds the contributors' keys (a devnet, or one
 * operator running every contributor): asks each for its consent, collects and checks them,
 * and registers. `signers` must hold an account for every contributor but the registrant.
 */
export async function registerModelWithSigners(
  client: OpenLoRAClient,
  params: ModelParams,
  contributors: readonly ContributorShare[],
  signers: readonly Account[],
  options: { deadline?: bigint } = {},
): Promise<RegisteredModel & { consents: SignedConsent[] }> {
  const registrant = signer(client, "ModelRegistry.registerModel").address;
  const requests = consentRequests({
    chainId: client.deployment.chainId,
    shares: client.deployment.coTrainingShares,
    registrant,
    adapterHash: params.adapterHash,
    contributors,
    deadline: options.deadline ?? (await chainTime(client)) + 86_400n,
  });
  const consents: SignedConsent[] = [];
  for (const request of requests) {
    const account = signers.find((s) => isAddressEqual(s.address, request.contributor));
    if (!account) {
      throw new InvalidArgumentError(`no key for contributor ${request.contributor} to sign its consent`, {
        account: request.contributor,
      });
    }
    consents.push(await signRegistrationConsent(account, request));
  }
  const list = await assembleContributors({
    registrant,
    adapterHash: params.adapterHash,
    contributors,
    consents,
  });
  return { ...(await registerModel(client, params, list)), consents };
}

/**
 * Usage settled and not yet flushed into the registry (Settlement keeps it per model until anyone
 * flushes): the registry's counters plus this are everything settled.
 */
export async function pendingUsage(
  client: OpenLoRAClient,
  modelId: bigint,
): Promise<{ calls: bigint; revenue: bigint; net: bigint }> {
  const [calls, revenue, net] = await call(client, `Settlement.pendingOf(${modelId})`, () =>
    client.publicClient.readContract({
      address: client.deployment.settlement,
      abi: settlementAbi,
      functionName: "pendingOf",
      args: [modelId],
    }),
  );
  return { calls, revenue, net };
}

/** A model; `totalCalls` and `totalRevenue` count settled usage, flushed or still pending. */
export async function getModel(client: OpenLoRAClient, modelId: bigint): Promise<ModelInfo> {
  const [m, pending] = await Promise.all([
    call(client, `ModelRegistry.getModel(${modelId})`, () =>
      client.publicClient.readContract({ ...registry(client), functionName: "getModel", args: [modelId] }),
    ),
    pendingUsage(client, modelId),
  ]);
  return {
    modelId,
    owner: m.owner,
    trainer: m.trainer,
    status: MODEL_STATUS[m.status] ?? "none",
    registeredAt: m.registeredAt,
    vault: m.vault,
    adapterHash: m.adapterHash,
    baseModelId: m.baseModelId,
    parentModelId: m.parentModelId,
    pricePerCall: m.pricePerCall,
    vaultShareBps: m.vaultShareBps,
    totalCalls: m.totalCalls + pending.calls,
    totalRevenue: m.totalRevenue + pending.revenue,
    metadataURI: m.metadataURI,
    datasetHashes: [...m.datasetHashes],
  };
}

/** The model registered with this adapter hash, or null. */
export async function modelIdByAdapterHash(client: OpenLoRAClient, adapterHash: Hex): Promise<bigint | null> {
  const id = await call(client, "ModelRegistry.modelIdByAdapterHash", () =>
    client.publicClient.readContract({
      ...registry(client),
      functionName: "modelIdByAdapterHash",
      args: [adapterHash],
    }),
  );
  return id === 0n ? null : id;
}

/** Share units of every holder of a model, largest first. */
export async function getContributors(
  client: OpenLoRAClient,
  modelId: bigint,
): Promise<{ contributors: ContributorUnits[]; totalUnits: bigint }> {
  const [[accounts, units], totalUnits] = await call(client, `CoTrainingShares.holdersOf(${modelId})`, () =>
    Promise.all([
      client.publicClient.readContract({ ...shares(client), functionName: "holdersOf", args: [modelId] }),
      client.publicClient.readContract({ ...shares(client), functionName: "totalUnits", args: [modelId] }),
    ]),
  );
  const contributors = accounts
    .map((account, i) => ({ account, units: units[i] ?? 0n }))
    .sort((a, b) => (a.units === b.units ? 0 : a.units > b.units ? -1 : 1));
  return { contributors, totalUnits };
}

/** Everything the chain knows about where a model comes from and who shares in it. */
export async function getProvenance(client: OpenLoRAClient, modelId: bigint): Promise<Provenance> {
  const model = await getModel(client, modelId);
  const [baseModel, { contributors, totalUnits }, versions, rounds] = await Promise.all([
    getBaseModel(client, model.baseModelId),
    getContributors(client, modelId),
    call(client, "ModelRegistry.versionsOf", () =>
      client.publicClient.readContract({ ...registry(client), functionName: "versionsOf", args: [modelId] }),
    ),
    call(client, "CoTrainingShares.roundsOf", () =>
      client.publicClient.readContract({ ...shares(client), functionName: "roundsOf", args: [modelId] }),
    ),
  ]);
  const lineage: bigint[] = [];
  for (let parent = model.parentModelId; parent !== 0n; ) {
    lineage.push(parent);
    parent = (await getModel(client, parent)).parentModelId;
  }
  return { model, baseModel, contributors, totalUnits, lineage, versions: [...versions], rounds };
}

/** Usage counters, raised only by settlement. */
export async function getUsage(
  client: OpenLoRAClient,
  modelId: bigint,
): Promise<{ totalCalls: bigint; totalRevenue: bigint; pricePerCall: bigint }> {
  const m = await getModel(client, modelId);
  return { totalCalls: m.totalCalls, totalRevenue: m.totalRevenue, pricePerCall: m.pricePerCall };
}

/** Ids of the models an account owns, ascending. */
export async function listModelsByOwner(client: OpenLoRAClient, owner: Address): Promise<bigint[]> {
  const ids = await call(client, "ModelRegistry.modelsOf", () =>
    client.publicClient.readContract({ ...registry(client), functionName: "modelsOf", args: [owner] }),
  );
  return [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Ids of every registered model (1 to modelCount). */
export async function listModels(client: OpenLoRAClient): Promise<bigint[]> {
  const count = await call(client, "ModelRegistry.modelCount", () =>
    client.publicClient.readContract({ ...registry(client), functionName: "modelCount" }),
  );
  return Array.from({ length: Number(count) }, (_, i) => BigInt(i + 1));
}

/** Ids of the models in which an account holds share units (scans every model's holders). */
export async function listModelsWithUnits(client: OpenLoRAClient, account: Address): Promise<bigint[]> {
  const ids = await listModels(client);
  const units = await Promise.all(
    ids.map((id) =>
      call(client, "CoTrainingShares.unitsOf", () =>
        client.publicClient.readContract({ ...shares(client), functionName: "unitsOf", args: [id, account] }),
      ),
    ),
  );
  return ids.filter((_, i) => (units[i] ?? 0n) > 0n);
}

/** Sets a model's price, vault share or status (only its owner). */
export async function setModelTerms(
  client: OpenLoRAClient,
  modelId: bigint,
  terms: { pricePerCall?: bigint; vaultShareBps?: number; status?: Exclude<ModelStatus, "none"> },
): Promise<Hex[]> {
  const hashes: Hex[] = [];
  if (terms.pricePerCall !== undefined) {
    const { hash } = await sendTx(client, "ModelRegistry.setPricePerCall", {
      ...registry(client),
      functionName: "setPricePerCall",
      args: [modelId, terms.pricePerCall],
    });
    hashes.push(hash);
  }
  if (terms.vaultShareBps !== undefined) {
    const { hash } = await sendTx(client, "ModelRegistry.setVaultShareBps", {
      ...registry(client),
      functionName: "setVaultShareBps",
      args: [modelId, terms.vaultShareBps],
    });
    hashes.push(hash);
  }
  if (terms.status !== undefined) {
    const { hash } = await sendTx(client, "ModelRegistry.setStatus", {
      ...registry(client),
      functionName: "setStatus",
      args: [modelId, MODEL_STATUS.indexOf(terms.status)],
    });
    hashes.push(hash);
  }
  return hashes;
}

/**
 * The JSON a `data:application/json[;base64],…` metadata URI carries (what `openlora register`
 * writes: name, base model, labels, …), or null for any other URI.
 */
export function metadataFromUri(uri: string): Record<string, unknown> | null {
  const match = /^data:application\/json(;base64)?,(.*)$/s.exec(uri);
  if (!match) return null;
  try {
    const text = match[1]
      ? Buffer.from(match[2] as string, "base64").toString("utf8")
      : decodeURIComponent(match[2] as string);
    const value: unknown = JSON.parse(text);
    return value && typeof value === "object" && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null; // not JSON: the URI is opaque to us, which is not an error
  }
}

export interface UnitsChange {
  account: Address;
  /** The account's units after the round (0 removes it). */
  toUnits: bigint;
}

/**
 * Applies a co-training round (only the model owner): every account whose units change signs a
 * UnitsChangeConsent binding its units before and after and the model's new total; `signers`
 * must hold each of their keys. Earnings so far stay with their earners.
 */
export async function applyTrainingRound(
  client: OpenLoRAClient,
  modelId: bigint,
  changes: readonly UnitsChange[],
  signers: readonly Account[],
  options: { deadline?: bigint } = {},
): Promise<{ totalUnits: bigint; hash: Hex }> {
  if (changes.length === 0)
    throw new InvalidArgumentError("a training round needs at least one units change");
  const { contributors, totalUnits } = await getContributors(client, modelId);
  const unitsOf = (a: Address) => contributors.find((c) => isAddressEqual(c.account, a))?.units ?? 0n;
  const newTotal = changes.reduce((total, c) => total - unitsOf(c.account) + c.toUnits, totalUnits);
  const deadline = options.deadline ?? (await chainTime(client)) + 86_400n;
  const sorted = [...changes].sort((a, b) => (BigInt(a.account) < BigInt(b.account) ? -1 : 1));
  const entries = [];
  for (const change of sorted) {
    const account = signers.find((s) => isAddressEqual(s.address, change.account));
    if (!account) {
      throw new InvalidArgumentError(`no key for ${change.account} to sign its units change`, {
        account: change.account,
      });
    }
    const nonce = randomNonce();
    const signature = await signUnitsChangeConsent(account, {
      chainId: client.deployment.chainId,
      shares: client.deployment.coTrainingShares,
      modelId,
      account: change.account,
      fromUnits: unitsOf(change.account),
      toUnits: change.toUnits,
      totalUnits: newTotal,
      nonce,
      deadline,
    });
    entries.push({ account: change.account, toUnits: change.toUnits, nonce, deadline, signature });
  }
  const { hash } = await sendTx(client, "CoTrainingShares.applyTrainingRound", {
    ...shares(client),
    functionName: "applyTrainingRound",
    args: [modelId, entries],
  });
  return { totalUnits: newTotal, hash };
}
