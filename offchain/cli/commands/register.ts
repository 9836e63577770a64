/**
 * `openlora register`: registers a trained adapter from its manifest.json (provenance, dataset
 * hashes, contributors and their share units) with every contributor's EIP-712 consent, and
 * `openlora consent`: a contributor signs its consent for a registrant to collect.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { type Account, type Address, getAddress, type Hex, isAddressEqual, keccak256 } from "viem";
import type { OpenLoRAClient } from "../../../sdk/client";
import { accountFromKey, chainTime } from "../../../sdk/client";
import {
  assembleContributors,
  type ContributorShare,
  consentFromJson,
  consentRequests,
  consentToJson,
  randomNonce,
  type SignedConsent,
  signRegistrationConsent,
} from "../../../sdk/integrator/consent";
import { ensureBaseModel, modelIdByAdapterHash, registerModel } from "../../../sdk/integrator/models";
import { devAccounts } from "../../chain/devnet";
import { CliError, ExitCode } from "../errors";
import { type RegistrableAdapter, readManifest } from "./adapterManifest";
import {
  action,
  amountFormatter,
  assertFileTarget,
  connect,
  output,
  parseAddress,
  parseId,
  progress,
  tokenAmount,
  withChainOptions,
} from "./chainOptions";
import { assertFunds } from "./funds";

export const CONTRIBUTOR_KEYS_ENV = "OPENLORA_CONTRIBUTOR_KEYS";
/** Units of a model registered by its trainer alone (no co-training contributors in the manifest). */
export const SOLO_UNITS = 10_000n;

/** `id=key` pairs from --contributor flags and $OPENLORA_CONTRIBUTOR_KEYS (comma-separated). */
function contributorKeys(flags: string[]): Map<string, Account> {
  const pairs = [...(process.env[CONTRIBUTOR_KEYS_ENV]?.split(",") ?? []), ...flags]
    .map((p) => p.trim())
    .filter(Boolean);
  const keys = new Map<string, Account>();
  for (const pair of pairs) {
    const at = pair.indexOf("=");
    if (at <= 0)
      throw new CliError(
        `a contributor key must be written id=privateKey, got "${pair.slice(0, 12)}…"`,
        ExitCode.usage,
      );
    const id = pair.slice(0, at);
    try {
      keys.set(id, accountFromKey(pair.slice(at + 1)));
    } catch (error) {
      throw new CliError(`the key of contributor ${id}: ${(error as Error).message}`, ExitCode.usage);
    }
  }
  return keys;
}

interface Resolved {
  id: string;
  account: Address;
  units: bigint;
  signer: Account | null;
}

/** Who shares in the model, with which units and (when we hold it) which key signs for them. */
function resolveContributors(
  manifest: RegistrableAdapter,
  registrant: Account,
  keys: Map<string, Account>,
  devContributors: boolean,
  chainId: number,
): { resolved: Resolved[]; skipped: string[] } {
  if (manifest.contributors.length === 0) {
    return {
      resolved: [{ id: "trainer", account: registrant.address, units: SOLO_UNITS, signer: registrant }],
      skipped: [],
    };
  }
  if (devContributors && chainId !== 31337) {
    throw new CliError("--dev-contributors is for local chains (chain 31337) only", ExitCode.usage);
  }
  const dev = devContributors ? devAccounts(manifest.contributors.length + 1).slice(1) : [];
  const resolved: Resolved[] = [];
  const skipped: string[] = [];
  manifest.contributors.forEach((c, i) => {
    if (c.units === 0) {
      skipped.push(c.id);
      return;
    }
    let signer = keys.get(c.id) ?? null;
    if (!signer && !c.address && devContributors)
      signer = accountFromKey((dev[i] as { privateKey: Hex }).privateKey);
    const account = c.address ? getAddress(c.address) : signer?.address;
    if (!account) {
      throw new CliError(
        `contributor ${c.id} has no address in the manifest and no key: pass --contributor ${c.id}=<private key> (or --dev-contributors on a devnet)`,
        ExitCode.usage,
        { contributor: c.id },
      );
    }
    if (signer && !isAddressEqual(signer.address, account)) {
      throw new CliError(
        `the key given for contributor ${c.id} is not the key of its address ${account}`,
        ExitCode.usage,
      );
    }
    resolved.push({ id: c.id, account, units: BigInt(c.units), signer });
  });
  if (resolved.length === 0)
    throw new CliError("no contributor of the manifest has any units", ExitCode.usage);
  return { resolved, skipped };
}

/** Compact self-description stored as the model's metadata URI. */
export function metadataUri(manifest: RegistrableAdapter): string {
  const json = JSON.stringify({
    name: manifest.name,
    baseModel: manifest.baseModel.id,
    labels: manifest.labels,
    adapter: { format: manifest.adapter.format, bytes: manifest.adapter.bytes, rank: manifest.rank },
    training: manifest.trainingMode,
    ...(manifest.heldOutAccuracy === undefined
      ? {}
      : { heldOutAccuracy: Number(manifest.heldOutAccuracy.toFixed(4)) }),
  });
  return `data:application/json;base64,${Buffer.from(json).toString("base64")}`;
}

function checkAdapterFile(manifest: RegistrableAdapter, dir: string) {
  const file = path.join(dir, manifest.adapter.file);
  if (!existsSync(file)) return false;
  const hash = keccak256(readFileSync(file));
  if (hash !== manifest.adapter.hash) {
    throw new CliError(
      `${file} hashes to ${hash}, not to the manifest's adapter hash ${manifest.adapter.hash}`,
      ExitCode.usage,
    );
  }
  return true;
}

interface RegisterFlags {
  price: string;
  vaultShare: number;
  metadataUri?: string;
  baseMetadataUri?: string;
  parent?: bigint;
  trainer?: Address;
  contributor: string[];
  consent: string[];
  devContributors?: boolean;
}

export function registerRegister(program: Command): void {
  withChainOptions(
    program
      .command("register")
      .description("register a trained adapter from its manifest, with every contributor's signed consent")
      .argument("<manifest>", "the adapter's manifest.json, or the directory holding it")
      .option("--price <tUSD>", "price per call in payment-asset units", "0.001")
      .option(
        "--vault-share <bps>",
        "share of net revenue for the model's vault, in bps",
        (v) => {
          const n = Number(v);
          if (!Number.isInteger(n) || n < 0 || n > 10_000)
            throw new CliError(`--vault-share must be 0 to 10000 bps, got "${v}"`, ExitCode.usage);
          return n;
        },
        2_000,
      )
      .option(
        "--metadata-uri <uri>",
        "the model's metadata URI (default: a data: URI describing it from the manifest)",
      )
      .option("--base-metadata-uri <uri>", "metadata URI of the base model, if it must be registered first")
      .option(
        "--parent <modelId>",
        "register as a new version of this model (which you own)",
        parseId("--parent"),
      )
      .option(
        "--trainer <address>",
        "who trained it (the registrant or a consenting contributor; default: the registrant)",
        parseAddress("--trainer"),
      )
      .option(
        "--contributor <id=key>",
        `a contributor's private key, to sign its consent (repeatable; also $${CONTRIBUTOR_KEYS_ENV})`,
        collect,
        [],
      )
      .option(
        "--consent <file>",
        "a consent signed by a contributor with `openlora consent` (repeatable)",
        collect,
        [],
      )
      .option(
        "--dev-contributors",
        "devnet: contributors without key or address sign as dev accounts 1, 2, …",
      ),
  ).action(
    action(async (location: string, options: RegisterFlags, command: Command) => {
      const { manifest, dir } = readManifest(location);
      const adapterChecked = checkAdapterFile(manifest, dir);
      const keys = contributorKeys(options.contributor);
      const { client, account } = await connect(command, { account: true });
      const registrant = account as Account;
      const existing = await modelIdByAdapterHash(client, manifest.adapter.hash as Hex);
      if (existing !== null) {
        throw new CliError(
          `adapter ${manifest.adapter.hash} is already registered as model ${existing}`,
          ExitCode.rejected,
          {
            modelId: existing.toString(),
          },
        );
      }
      const price = await tokenAmount(client, options.price, "--price");
      await assertFunds(client, registrant);
      const { resolved, skipped } = resolveContributors(
        manifest,
        registrant,
        keys,
        Boolean(options.devContributors),
        client.deployment.chainId,
      );
      const shares: ContributorShare[] = resolved.map((r) => ({ account: r.account, units: r.units }));
      const consents = await collectConsents(
        client,
        registrant,
        manifest.adapter.hash as Hex,
        shares,
        resolved,
        options.consent,
      );

      progress(command, `base model ${manifest.baseModel.id} (${manifest.baseModel.hash})…`);
      const base = await ensureBaseModel(client, {
        contentHash: manifest.baseModel.hash as Hex,
        metadataURI: options.baseMetadataUri ?? `openlora:base/${manifest.baseModel.id}`,
      });
      const contributors = await assembleContributors({
        registrant: registrant.address,
        adapterHash: manifest.adapter.hash as Hex,
        contributors: shares,
        consents,
        now: await chainTime(client),
      });
      progress(command, `registering ${manifest.name} with ${contributors.length} contributor(s)…`);
      const datasetHashes = [...new Set(manifest.datasets.map((d) => d.hash as Hex))];
      const registered = await registerModel(
        client,
        {
          adapterHash: manifest.adapter.hash as Hex,
          baseModelId: base.baseModelId,
          parentModelId: options.parent ?? 0n,
          pricePerCall: price,
          vaultShareBps: options.vaultShare,
          metadataURI: options.metadataUri ?? metadataUri(manifest),
          datasetHashes,
          ...(options.trainer ? { trainer: options.trainer } : {}),
        },
        contributors,
      );
      const fmt = await amountFormatter(client);
      const total = shares.reduce((sum, s) => sum + s.units, 0n);
      output(
        command,
        {
          modelId: registered.modelId,
          vault: registered.vault,
          name: manifest.name,
          adapterHash: manifest.adapter.hash,
          adapterFileChecked: adapterChecked,
          baseModelId: base.baseModelId,
          baseModelRegistered: base.registered,
          pricePerCall: price,
          vaultShareBps: options.vaultShare,
          datasetHashes,
          contributors: resolved.map((r) => ({ id: r.id, account: r.account, units: r.units })),
          skippedContributors: skipped,
          totalUnits: total,
          owner: registrant.address,
          transaction: registered.hash,
        },
        () => [
          `registered "${manifest.name}" as model ${registered.modelId} (owner ${registrant.address})`,
          `  adapter      ${manifest.adapter.hash}${adapterChecked ? " (file checked)" : ""}`,
          `  base model   ${base.baseModelId} ${manifest.baseModel.id}${base.registered ? " (registered now)" : ""}`,
          `  vault        ${registered.vault} (${options.vaultShare / 100}% of net revenue)`,
          `  price        ${fmt(price)} per call`,
          `  datasets     ${datasetHashes.length}`,
          "  contributors",
          ...resolved.map((r) => `    ${r.id.padEnd(12)} ${r.account}  ${r.units} / ${total} units`),
          ...(skipped.length ? [`  not listed (no units): ${skipped.join(", ")}`] : []),
          `  transaction  ${registered.hash}`,
        ],
      );
    }),
  );
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

async function collectConsents(
  client: OpenLoRAClient,
  registrant: Account,
  adapterHash: Hex,
  shares: ContributorShare[],
  resolved: Resolved[],
  files: string[],
): Promise<SignedConsent[]> {
  const given = files.map((file) => {
    try {
      return consentFromJson(JSON.parse(readFileSync(file, "utf8")));
    } catch (error) {
      throw new CliError(`cannot read the consent ${file}: ${(error as Error).message}`, ExitCode.usage, {
        file,
      });
    }
  });
  const requests = consentRequests({
    chainId: client.deployment.chainId,
    shares: client.deployment.coTrainingShares,
    registrant: registrant.address,
    adapterHash,
    contributors: shares,
    deadline: (await chainTime(client)) + 86_400n,
  });
  const consents: SignedConsent[] = [...given];
  for (const request of requests) {
    if (given.some((g) => isAddressEqual(g.request.contributor, request.contributor))) continue;
    const who = resolved.find((r) => isAddressEqual(r.account, request.contributor));
    if (!who?.signer) {
      throw new CliError(
        `no consent from contributor ${who?.id ?? request.contributor} (${request.contributor}): pass --consent <file> signed with \`openlora consent\`, or its key with --contributor`,
        ExitCode.usage,
      );
    }
    consents.push(await signRegistrationConsent(who.signer, request));
  }
  return consents;
}

interface ConsentFlags {
  registrant: string;
  units: string;
  totalUnits: string;
  adapterHash?: string;
  manifest?: string;
  deadline: string;
  out?: string;
}

export function registerConsent(program: Command): void {
  withChainOptions(
    program
      .command("consent")
      .description(
        "sign your consent to be listed in a model with some share units (for the registrant to collect)",
      )
      .requiredOption("--registrant <address>", "who will register (and own) the model")
      .requiredOption("--units <n>", "your share units")
      .requiredOption("--total-units <n>", "the model's total units at registration")
      .option("--adapter-hash <hash>", "the adapter's content hash")
      .option("--manifest <file>", "read the adapter hash from this manifest instead")
      .option("--deadline <hours>", "hours until the consent expires", "24")
      .option("--out <file>", "write the signed consent here (default: print it)"),
  ).action(
    action(async (options: ConsentFlags, command: Command) => {
      const adapterHash = (options.adapterHash ??
        (options.manifest ? readManifest(options.manifest).manifest.adapter.hash : undefined)) as
        | Hex
        | undefined;
      if (!adapterHash || !/^0x[0-9a-fA-F]{64}$/.test(adapterHash)) {
        throw new CliError("pass the adapter's hash with --adapter-hash or --manifest", ExitCode.usage);
      }
      if (!/^0x[0-9a-fA-F]{40}$/.test(options.registrant))
        throw new CliError("--registrant must be an address", ExitCode.usage);
      for (const [flag, v] of [
        ["--units", options.units],
        ["--total-units", options.totalUnits],
        ["--deadline", options.deadline],
      ]) {
        if (!/^\d+$/.test(v as string))
          throw new CliError(`${flag} must be a whole number, got "${v}"`, ExitCode.usage);
      }
      assertFileTarget("--out", options.out);
      const { client, account } = await connect(command, { account: true });
      const contributor = account as Account;
      const consent = await signRegistrationConsent(contributor, {
        chainId: client.deployment.chainId,
        shares: client.deployment.coTrainingShares,
        registrant: getAddress(options.registrant),
        adapterHash,
        contributor: contributor.address,
        units: BigInt(options.units),
        totalUnits: BigInt(options.totalUnits),
        nonce: randomNonce(),
        deadline: (await chainTime(client)) + BigInt(options.deadline) * 3_600n,
      });
      const json = consentToJson(consent);
      if (options.out) writeFileSync(options.out, `${JSON.stringify(json, null, 2)}\n`);
      output(command, { consent: json, ...(options.out ? { file: options.out } : {}) }, () =>
        options.out
          ? [`signed consent of ${contributor.address} written to ${options.out}`]
          : [JSON.stringify(json, null, 2)],
      );
    }),
  );
}
