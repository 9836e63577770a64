import { type Hex, keccak256, toBytes } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Devnet, startDevnet } from "../../offchain/chain/devnet";
import { createOpenLoRAClient, type OpenLoRAClient, withAccount } from "../client";
import {
  ContractRevertError,
  InvalidArgumentError,
  MissingAccountError,
  RpcUnreachableError,
} from "../errors";
import { coTrainingSharesAbi } from "../generated/abis";
import { getVaultState } from "../investor/vaults";
import {
  assembleContributors,
  consentRequests,
  registrationConsentDigest,
  signRegistrationConsent,
  unitsChangeConsentDigest,
} from "./consent";
import {
  applyTrainingRound,
  ensureBaseModel,
  getContributors,
  getModel,
  getProvenance,
  listModelsByOwner,
  listModelsWithUnits,
  metadataFromUri,
  modelIdByAdapterHash,
  registerModel,
  registerModelWithSigners,
} from "./models";

let devnet: Devnet;
let owner: OpenLoRAClient;
const hash = (label: string) => keccak256(toBytes(label));

beforeAll(async () => {
  devnet = await startDevnet({ accounts: 5, funding: 0n });
  owner = createOpenLoRAClient({
    rpcUrl: devnet.rpcUrl,
    deployment: devnet.deployment,
    account: (devnet.accounts[1] as { privateKey: Hex }).privateKey,
  });
});

afterAll(async () => {
  await devnet?.stop();
});

const key = (i: number) => (devnet.accounts[i] as { privateKey: Hex }).privateKey;
const address = (i: number) => (devnet.accounts[i] as { address: Hex }).address;

describe("models: registration with consent, provenance", () => {
  let baseModelId: bigint;

  it("registers a base model once and finds it by content hash", async () => {
    const first = await ensureBaseModel(owner, {
      contentHash: hash("base"),
      metadataURI: "openlora:base/test",
    });
    expect(first.registered).toBe(true);
    const again = await ensureBaseModel(owner, { contentHash: hash("base"), metadataURI: "ignored" });
    expect(again).toEqual({ baseModelId: first.baseModelId, registered: false });
    baseModelId = first.baseModelId;
  });

  it("computes consent digests equal to the contract's", async () => {
    const shares = { address: devnet.deployment.coTrainingShares, abi: coTrainingSharesAbi } as const;
    const request = {
      chainId: devnet.chainId,
      shares: devnet.deployment.coTrainingShares,
      registrant: address(1),
      adapterHash: hash("x"),
      contributor: address(2),
      units: 3n,
      totalUnits: 10n,
      nonce: 99n,
      deadline: 1_700_000_000n,
    };
    const onChain = await owner.publicClient.readContract({
      ...shares,
      functionName: "registrationConsentDigest",
      args: [request.registrant, request.adapterHash, request.contributor, 3n, 10n, 99n, 1_700_000_000n],
    });
    expect(registrationConsentDigest(request)).toBe(onChain);
    const change = {
      ...request,
      modelId: 7n,
      account: address(2),
      fromUnits: 3n,
      toUnits: 5n,
      totalUnits: 12n,
    };
    const changeOnChain = await owner.publicClient.readContract({
      ...shares,
      functionName: "unitsChangeConsentDigest",
      args: [7n, address(2), 3n, 5n, 12n, 99n, 1_700_000_000n],
    });
    expect(unitsChangeConsentDigest(change)).toBe(changeOnChain);
  });

  it("registers a co-trained adapter with three contributors' consent and reads its provenance back", async () => {
    const contributors = [
      { account: address(1), units: 500n },
      { account: address(2), units: 300n },
      { account: address(3), units: 200n },
    ];
    const signers = [privateKeyToAccount(key(2)), privateKeyToAccount(key(3))];
    const registered = await registerModelWithSigners(
      owner,
      {
        adapterHash: hash("adapter-1"),
        baseModelId,
        pricePerCall: 1_000n,
        vaultShareBps: 2_500,
        metadataURI: `data:application/json;base64,${Buffer.from('{"name":"spam-filter"}').toString("base64")}`,
        datasetHashes: [hash("d1"), hash("d2")],
        trainer: address(2),
      },
      contributors,
      signers,
    );
    expect(registered.modelId).toBe(1n);
    expect(registered.consents).toHaveLength(2);

    const p = await getProvenance(owner, registered.modelId);
    expect(p.model).toMatchObject({
      owner: address(1),
      trainer: address(2),
      status: "active",
      adapterHash: hash("adapter-1"),
      baseModelId,
      pricePerCall: 1_000n,
      vaultShareBps: 2_500,
      totalCalls: 0n,
      datasetHashes: [hash("d1"), hash("d2")],
      vault: registered.vault,
    });
    expect(metadataFromUri(p.model.metadataURI)).toEqual({ name: "spam-filter" });
    expect(p.baseModel.contentHash).toBe(hash("base"));
    expect(p.contributors).toEqual(contributors);
    expect(p.totalUnits).toBe(1_000n);
    expect(p.lineage).toEqual([]);
    expect(await modelIdByAdapterHash(owner, hash("adapter-1"))).toBe(1n);
    expect(await listModelsByOwner(owner, address(1))).toEqual([1n]);
    expect(await listModelsWithUnits(owner, address(3))).toEqual([1n]);
    expect((await getVaultState(owner, { modelId: 1n })).vault).toBe(registered.vault);
  });

  it("registers a new version with its lineage", async () => {
    const v2 = await registerModel(
      owner,
      {
        adapterHash: hash("adapter-1-v2"),
        baseModelId,
        parentModelId: 1n,
        pricePerCall: 2_000n,
        vaultShareBps: 0,
        metadataURI: "ipfs://v2",
        datasetHashes: [],
      },
      [{ account: address(1), units: 1n, nonce: 0n, deadline: 0n, signature: "0x" }],
    );
    const p = await getProvenance(owner, v2.modelId);
    expect(p.lineage).toEqual([1n]);
    expect((await getProvenance(owner, 1n)).versions).toEqual([v2.modelId]);
  });

  it("applies a training round with every changed account's consent", async () => {
    const signers = [privateKeyToAccount(key(1)), privateKeyToAccount(key(3)), privateKeyToAccount(key(4))];
    const { totalUnits } = await applyTrainingRound(
      owner,
      1n,
      [
        { account: address(3), toUnits: 0n },
        { account: address(4), toUnits: 400n },
      ],
      signers,
    );
    expect(totalUnits).toBe(1_200n);
    const { contributors } = await getContributors(owner, 1n);
    expect(contributors).toEqual([
      { account: address(1), units: 500n },
      { account: address(4), units: 400n },
      { account: address(2), units: 300n },
    ]);
    expect((await getProvenance(owner, 1n)).rounds).toBe(1n);
  });

  it("reverts with the contract's decoded error when a consent is forged or reused", async () => {
    const contributors = [
      { account: address(1), units: 1n },
      { account: address(2), units: 1n },
    ];
    const [request] = consentRequests({
      chainId: devnet.chainId,
      shares: devnet.deployment.coTrainingShares,
      registrant: address(1),
      adapterHash: hash("adapter-forged"),
      contributors,
    });
    // Signed by account 3 instead of the contributor: the SDK refuses to assemble it...
    const forged = await signRegistrationConsent(privateKeyToAccount(key(3)), {
      ...(request as NonNullable<typeof request>),
      contributor: address(3),
    });
    await expect(
      assembleContributors({
        registrant: address(1),
        adapterHash: hash("adapter-forged"),
        contributors,
        consents: [{ ...forged, request: request as NonNullable<typeof request> }],
      }),
    ).rejects.toThrow(InvalidArgumentError);
    // ...and the contract rejects it when sent anyway.
    const error = await registerModel(
      owner,
      {
        adapterHash: hash("adapter-forged"),
        baseModelId,
        pricePerCall: 1n,
        vaultShareBps: 0,
        metadataURI: "",
        datasetHashes: [],
      },
      [
        { account: address(1), units: 1n, nonce: 0n, deadline: 0n, signature: "0x" as Hex },
        {
          account: address(2),
          units: 1n,
          nonce: request?.nonce as bigint,
          deadline: request?.deadline as bigint,
          signature: forged.signature,
        },
      ].sort((a, b) => (BigInt(a.account) < BigInt(b.account) ? -1 : 1)),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ContractRevertError);
    expect((error as ContractRevertError).errorName).toBe("Shares_InvalidSignature");
    expect((error as ContractRevertError).message).toMatch(
      /ModelRegistry\.registerModel reverted: Shares_InvalidSignature\(account=0x/,
    );

    const duplicate = await registerModel(
      owner,
      {
        adapterHash: hash("adapter-1"),
        baseModelId,
        pricePerCall: 1n,
        vaultShareBps: 0,
        metadataURI: "",
        datasetHashes: [],
      },
      [{ account: address(1), units: 1n, nonce: 0n, deadline: 0n, signature: "0x" }],
    ).catch((e: unknown) => e);
    expect((duplicate as ContractRevertError).errorName).toBe("ModelRegistry_AdapterAlreadyRegistered");
    await expect(getModel(owner, 999n)).rejects.toThrow(/ModelRegistry_UnknownModel\(modelId=999\)/);
  });

  it("says when a write has no signer or the node is down", async () => {
    const reader = createOpenLoRAClient({ rpcUrl: devnet.rpcUrl, deployment: devnet.deployment });
    await expect(ensureBaseModel(reader, { contentHash: hash("other"), metadataURI: "" })).rejects.toThrow(
      MissingAccountError,
    );
    const dead = withAccount(
      createOpenLoRAClient({ rpcUrl: "http://127.0.0.1:9", deployment: devnet.deployment }),
      key(1),
    );
    const error = await getModel(dead, 1n).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RpcUnreachableError);
    expect((error as Error).message).toMatch(/cannot reach the chain at http:\/\/127\.0\.0\.1:9/);
  });
});
