/**
 * `openlora serve`: assembles a runner from its configuration — one onnxruntime session for
 * the base model, the adapter store and cache, the payment gate on chain state, the receipt
 * journal, the settler and the HTTP API — and takes it down gracefully: stop accepting, drain
 * requests in flight, settle what was served, flush the journal.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import pino, { type Logger } from "pino";
import { createPublicClient, createWalletClient, type Hex, http, type PublicClient } from "viem";
import { chainFor } from "../../sdk/client";
import { type Deployment, findDeploymentFile, readDeployment } from "../../sdk/deployments";
import { modelRegistryAbi, runnerRegistryAbi } from "../../sdk/generated/abis";
import { nativeSigningAccount } from "../crypto/nativeAccount";
import { cryptoBackend } from "../crypto/nativeBackend";
import { createDashboard } from "../dashboard/dashboard";
import { PaymentGate } from "../payments/paymentGate";
import { SignatureThread } from "../payments/signatureThread";
import { AdapterCache } from "./adapterCache";
import { adapterFileOf } from "./adapterSource";
import { AdapterStore } from "./adapterStore";
import { AnsweredCalls } from "./answeredCalls";
import type { ServedModel } from "./catalog";
import { ChainChannelSource, ChainModelCatalog, SettledLaneWatcher } from "./chain";
import { type RunnerConfig, settlementConfirmations } from "./config";
import { type DataDirLock, lockDataDir } from "./dataDirLock";
import { type HttpOptions, type RunnerHttpContext, RunnerHttpServer } from "./http";
import { InferenceService } from "./inference";
import { Journal } from "./journal";
import { RunnerMetrics } from "./metrics";
import type { PaidAnswer } from "./paidCall";
import { openServingBase, type ServingBase } from "./servingBase";
import type { CallRecord } from "./settlement/batchPlan";
import { Settler } from "./settlement/settler";

export class RunnerStartError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "RunnerStartError";
  }
}

export interface RunnerEvents {
  onPaidCall?(model: ServedModel, answer: PaidAnswer, latencyMs: number): void;
  /** Extra HTTP routes served by the runner (the dashboard). */
  extraRoutes?: RunnerHttpContext["extraRoutes"];
}

export interface Runner {
  url: string;
  address: Hex;
  chainId: number;
  deployment: Deployment;
  base: ServingBase["base"];
  settler: Settler;
  metrics: RunnerMetrics;
  catalog: ChainModelCatalog;
  /** Graceful shutdown: drain, settle what was served, close the journal. */
  stop(options?: { settle?: boolean }): Promise<void>;
}

async function connect(config: RunnerConfig, log: Logger) {
  const probe = createPublicClient({ transport: http(config.rpcUrl, { retryCount: 0, timeout: 5_000 }) });
  let chainId: number;
  try {
    chainId = await probe.getChainId();
  } catch (error) {
    throw new RunnerStartError(
      `cannot reach the chain at ${config.rpcUrl}: ${(error as Error).message.split("\n")[0]}`,
      {
        cause: error,
      },
    );
  }
  const chain = chainFor(chainId, config.rpcUrl);
  const transport = http(config.rpcUrl, { retryCount: 2, timeout: 10_000 });
  // Settlement transactions are signed natively: viem's pure-JS signing blocks the event loop longer.
  const account = nativeSigningAccount(config.privateKey as Hex);
  const publicClient = createPublicClient({ chain, transport, pollingInterval: 250 }) as PublicClient;
  const walletClient = createWalletClient({ chain, transport, account });
  // The reads a paid call may wait on (model terms, channels, lanes) give up soon and without
  // retries: the caches then serve the last known state. Settlement keeps the patient client.
  const servingReads = createPublicClient({
    chain,
    transport: http(config.rpcUrl, { retryCount: 0, timeout: config.chainReadTimeoutMs }),
  }) as PublicClient;
  log.info({ chainId, rpcUrl: config.rpcUrl, runner: account.address }, "connected");
  return { chainId, publicClient, servingReads, walletClient, account };
}

/** Adds configured adapter files (or trained adapter directories) to the content-addressed store. */
function importAdapters(store: AdapterStore, sources: readonly string[], log: Logger): void {
  for (const source of sources) {
    const file = adapterFileOf(source);
    if (!existsSync(file)) throw new RunnerStartError(`adapter file not found: ${file}`);
    const hash = store.putFile(file);
    log.info({ file, adapterHash: hash }, "adapter added to the store");
  }
}

/**
 * Starts a runner on its data directory, which it locks first: throws DataDirLockedError while
 * another runner serves from it, RunnerStartError when the chain or the deployment is wrong.
 */
export async function startRunner(
  config: RunnerConfig,
  events: RunnerEvents = {},
  log: Logger = pino(),
  httpOptions: Pick<HttpOptions, "freeOfCharge"> = {},
): Promise<Runner> {
  const lock = await lockDataDir(config.dataDir);
  try {
    return await startLocked(config, lock, events, log, httpOptions);
  } catch (error) {
    await lock.release();
    throw error;
  }
}

async function startLocked(
  config: RunnerConfig,
  lock: DataDirLock,
  events: RunnerEvents,
  log: Logger,
  httpOptions: Pick<HttpOptions, "freeOfCharge">,
): Promise<Runner> {
  const serving = await openServingBase(config);
  try {
    return await serve(config, lock, events, log, httpOptions, serving);
  } catch (error) {
    await serving.release();
    throw error;
  }
}

async function serve(
  config: RunnerConfig,
  lock: DataDirLock,
  events: RunnerEvents,
  log: Logger,
  httpOptions: Pick<HttpOptions, "freeOfCharge">,
  serving: ServingBase,
): Promise<Runner> {
  const { chainId, publicClient, servingReads, walletClient, account } = await connect(config, log);
  const deployment = readDeployment(config.deployments ?? findDeploymentFile(chainId, config.rpcUrl));
  if (deployment.chainId !== chainId) {
    throw new RunnerStartError(
      `the deployments file is for chain ${deployment.chainId}, the RPC serves chain ${chainId}`,
    );
  }
  const { base } = serving;
  const baseModelId = await publicClient.readContract({
    address: deployment.modelRegistry,
    abi: modelRegistryAbi,
    functionName: "baseModelIdByContentHash",
    args: [base.hash],
  });
  if (baseModelId === 0n) {
    throw new RunnerStartError(
      `the base model ${base.id} (${base.hash}) is not registered in the model registry`,
    );
  }
  const active = await publicClient.readContract({
    address: deployment.runnerRegistry,
    abi: runnerRegistryAbi,
    functionName: "isActive",
    args: [account.address],
  });
  if (!active)
    log.warn({ runner: account.address }, "this runner is not registered and staked: settlement will fail");

  const store = new AdapterStore(config.adapterDir ?? path.join(config.dataDir, "adapters"));
  importAdapters(store, config.adapters, log);
  const { pinned } = config.cache;
  const slots = serving.slots.slots;
  log.info({ base: base.id, baseHash: base.hash, method: serving.method, slots }, "adapters are served");
  const cache = new AdapterCache(serving.slots, store);
  const metrics = new RunnerMetrics();
  const inference = new InferenceService(serving.backend, cache, config.batch, metrics);
  const catalog = new ChainModelCatalog(
    servingReads,
    deployment.modelRegistry,
    baseModelId,
    config.models,
    config.chainCacheMs,
  );
  for (const modelId of pinned) {
    const model = await catalog.model(modelId);
    if (model) cache.pin(modelId, model.adapterHash);
  }

  const { journal, records } = await Journal.open(path.join(config.dataDir, "journal.log"));
  // Vouchers are verified and receipts signed off the event loop (see signatureThread.ts).
  const signatures = new SignatureThread({
    chainId,
    paymentChannels: deployment.paymentChannels,
    settlement: deployment.settlement,
    privateKey: config.privateKey as Hex,
  });
  const gate = new PaymentGate(
    signatures,
    account.address,
    new ChainChannelSource(servingReads, deployment.paymentChannels, config.chainCacheMs),
  );
  // Each lane's latest accepted voucher: from its calls, or the lane record compaction left;
  // and its latest call, whose answer a consumer may ask for again.
  const answered = new AnsweredCalls();
  for (const record of records) {
    if (record.type !== "call" && record.type !== "lane") continue;
    const { voucher, voucherSignature } = record as unknown as CallRecord;
    gate.restore(voucher.channelId, voucher.modelId, { ...voucher, signature: voucherSignature });
    if (record.type === "call") answered.add(record as unknown as CallRecord, record.payer as Hex);
  }
  // Settlements of this key that this journal does not know (another runner) make their lanes stale.
  const settledLanes = new SettledLaneWatcher(
    publicClient,
    deployment.paymentChannels,
    account.address,
    gate,
    log,
    config.chainCacheMs,
  );
  await settledLanes.start();
  const settler = new Settler({
    publicClient,
    walletClient,
    account,
    settlement: deployment.settlement,
    paymentChannels: deployment.paymentChannels,
    journal,
    log: log.child({ component: "settler" }),
    metrics,
    ...config.settlement,
    confirmations: settlementConfirmations(config.settlement.confirmations, chainId),
    compactJournalBytes: config.settlement.compactJournalMB * 2 ** 20,
  });
  await settler.recover(records);
  settler.start();
  const dashboard = createDashboard({
    publicClient,
    deployment,
    runner: account.address,
    chainId,
    catalog,
    settler,
    proof: (requestHash) => settler.proof(requestHash),
    log: log.child({ component: "dashboard" }),
  });

  let accepting = true;
  const server = new RunnerHttpServer(
    {
      answered,
      chainId,
      paymentChannels: deployment.paymentChannels,
      settlement: deployment.settlement,
      paymentAsset: deployment.paymentAsset,
      gate,
      signer: signatures,
      inference,
      journal,
      catalog,
      base,
      metrics,
      log,
      ready: () => accepting,
      settleNow: () => settler.settleAll(),
      proof: (requestHash) => settler.proof(requestHash),
      extraRoutes: async (req, res, path) =>
        (await dashboard.routes(req, res, path)) || ((await events.extraRoutes?.(req, res, path)) ?? false),
      onPaidCall: (model, answer, latencyMs) => {
        settler.addCall(answer.record);
        dashboard.onPaidCall(model, answer, latencyMs);
        events.onPaidCall?.(model, answer, latencyMs);
      },
    },
    { host: config.host, port: config.port, maxBodyBytes: config.maxBodyBytes, ...httpOptions },
  );
  const url = await server.listen();
  dashboard.start();
  // Which native code signs and verifies: the addon, or the npm packages' slower fallback.
  log.info({ url, models: config.models, slots, crypto: cryptoBackend.name }, "runner is serving");

  return {
    url,
    address: account.address,
    chainId,
    deployment,
    base,
    settler,
    metrics,
    catalog,
    async stop({ settle = true } = {}) {
      accepting = false;
      settledLanes.stop();
      dashboard.stop(); // closes the dashboard's event streams, which would hold the server open
      await server.close();
      await settler
        .stop(settle)
        .catch((error) => log.error({ err: error }, "final settlement failed; it resumes at next start"));
      await journal.close();
      await signatures.close();
      await serving.release();
      await lock.release();
      log.info("runner stopped");
    },
  };
}
