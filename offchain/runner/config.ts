/**
 * Runner configuration: a JSON file, then OPENLORA_* environment variables, then command-line
 * flags, each overriding the one before; validated once at start with messages that name the
 * setting and where it came from.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { LORA_KERNELS } from "./executor/loraKernel";
import { SETTLE_POLICY_DEFAULTS } from "./settlement/settlePolicy";

/** The base models a runner can serve (servingBase.ts): the USE-lite transformer, or lande (adapters trained on it before). */
export const SERVED_BASES = ["lande", "use-lite"] as const;

const hexKey = z.string().regex(/^0x[0-9a-fA-F]{64}$/, "must be a 32-byte hex private key");
const modelList = z.union([z.literal("all"), z.array(z.coerce.bigint()).min(1)]);

export const runnerConfigSchema = z.object({
  rpcUrl: z.url({ message: "must be an http(s) URL" }).default("http://127.0.0.1:8545"),
  deployments: z
    .string()
    .optional()
    .describe(
      "deployments file; default the local node's deployments/local/<chainId>-<port>.json, else deployments/<chainId>.json",
    ),
  privateKey: hexKey.describe("the runner's key (OPENLORA_RUNNER_KEY)"),
  host: z.string().default("127.0.0.1"),
  port: z.coerce.number().int().min(0).max(65_535).default(8080),
  dataDir: z.string().default(".openlora/runner"),
  adapterDir: z.string().optional().describe("content-addressed adapter store; default <dataDir>/adapters"),
  models: modelList.default("all"),
  adapters: z
    .array(z.string())
    .default([])
    .describe("adapter files or trained adapter directories to add to the store at start"),
  maxBodyBytes: z.coerce
    .number()
    .int()
    .positive()
    .default(64 * 1024),
  base: z
    .enum(SERVED_BASES)
    .default("use-lite")
    .describe(
      "the base model served: use-lite (the USE-lite transformer, PEFT adapters) or lande (language-ID MLP)",
    ),
  loraKernel: z
    .enum(LORA_KERNELS)
    .default("auto")
    .describe("lande's rows: native (our BGMV kernel), graph (onnxruntime alone), auto (native where built)"),
  inferenceThread: z
    .union([z.boolean(), z.enum(["true", "false"])], { error: "must be true or false" })
    .transform((value) => value === true || value === "true")
    .default(true)
    .describe(
      "use-lite's batches run on a worker thread, off the event loop that parses HTTP and gates payments (lande's always on the loop)",
    ),
  batch: z
    .object({
      maxBatch: z.coerce.number().int().min(1).max(1024).default(32),
      // Node's timers fire no sooner than 1 ms; a batch waits at most that for company.
      maxWaitMs: z.coerce.number().min(0).max(1000).default(1),
      maxQueue: z.coerce.number().int().min(1).default(2048),
    })
    .prefault({}),
  cache: z
    .object({
      budgetMB: z.coerce.number().positive().default(256),
      maxRank: z.coerce.number().int().min(1).max(256).default(16),
      maxClasses: z.coerce.number().int().min(2).max(1024).default(8),
      pinned: z.array(z.coerce.bigint()).default([]),
    })
    .prefault({}),
  settlement: z
    .object({
      // The policy (settlement/settlePolicy.ts): settle on size or age, at most once per interval
      // while calls keep coming, and a closing channel before its challenge deadline.
      /** Settlements are at least this far apart, but for channels about to close. */
      intervalMs: z.coerce.number().int().min(100).default(SETTLE_POLICY_DEFAULTS.minIntervalMs),
      /** A settlement is due once the oldest unsettled call is this old; unset: 6 × intervalMs. */
      maxAgeMs: z.coerce.number().int().min(100).optional(),
      /** A settlement is due once this many calls are unsettled (and the interval has passed). */
      maxCalls: z.coerce.number().int().min(1).default(SETTLE_POLICY_DEFAULTS.maxCalls),
      /** A settlement is due once this much value is unsettled, in payment-asset base units. */
      maxValue: z.coerce.bigint().positive().optional(),
      /** A closing channel is settled this long before its challenge deadline. */
      closeMarginMs: z.coerce.number().int().min(0).default(SETTLE_POLICY_DEFAULTS.closeMarginMs),
      /** What one more lane adds to a settlement's gas. */
      laneGas: z.coerce.bigint().positive().default(SETTLE_POLICY_DEFAULTS.laneGas),
      /** A lane is settled once its value is this many times its gas cost (with nativeTokenPrice). */
      gasWorthMultiple: z.coerce.number().min(0).default(SETTLE_POLICY_DEFAULTS.gasWorthMultiple),
      /** One native token (10^18 wei) in payment-asset base units; unset: every lane is worth its gas. */
      nativeTokenPrice: z.coerce.bigint().positive().optional(),
      /** How often the policy is looked at, and close requests looked for; unset: 5 s or intervalMs. */
      pollMs: z.coerce.number().int().min(10).optional(),
      maxLanes: z.coerce.number().int().min(1).max(500).default(50),
      /** Blocks on top of a settlement before it counts; unset: see settlementConfirmations. */
      confirmations: z.coerce.number().int().min(0).max(64).optional(),
      /** Receipts of the latest settled batches whose proofs the runner keeps serving (memory and journal). */
      proofReceipts: z.coerce.number().int().min(1).default(50_000),
      /** The journal is compacted (settled calls of older batches dropped) each time it grows by this much. */
      compactJournalMB: z.coerce.number().positive().default(256),
      /** Settled models' pending revenue is flushed after a settlement this long after the last flush; 0: every time; unset: 6 × intervalMs. */
      flushEveryMs: z.coerce.number().int().min(0).optional(),
    })
    .prefault({}),
  chainCacheMs: z.coerce
    .number()
    .int()
    .min(0)
    .default(2_000)
    .describe("how often chain reads are refreshed, in the background"),
  chainReadTimeoutMs: z.coerce
    .number()
    .int()
    .min(100)
    .default(2_000)
    .describe("how long a chain read may take before it counts as failed (then the last known state serves)"),
});

export type RunnerConfig = z.output<typeof runnerConfigSchema>;

/** The dev chain id of anvil and hardhat, which mine a block per transaction only. */
const LOCAL_DEV_CHAIN_ID = 31337;

/**
 * Blocks a settlement waits on top of it: as configured, else 1, or 0 on a local dev chain,
 * where the next block only comes with someone's next transaction and a quiet devnet would
 * hold the settlement open until then.
 */
export function settlementConfirmations(configured: number | undefined, chainId: number): number {
  return configured ?? (chainId === LOCAL_DEV_CHAIN_ID ? 0 : 1);
}

export class ConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(`invalid runner configuration:\n  - ${issues.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}

/** OPENLORA_* variables as config keys; nested keys use "__" (OPENLORA_BATCH__MAX_BATCH). */
export function configFromEnv(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  // BUDGET_MB → budgetMB: keys in megabytes end in "MB", not "Mb".
  const camel = (s: string) =>
    s
      .toLowerCase()
      .replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())
      .replace(/Mb$/, "MB");
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith("OPENLORA_") || value === undefined) continue;
    const key = name.slice("OPENLORA_".length);
    if (key === "RUNNER_KEY") {
      out.privateKey = value;
      continue;
    }
    const path = key.split("__").map(camel);
    let target = out;
    for (const part of path.slice(0, -1)) {
      target[part] ??= {};
      target = target[part] as Record<string, unknown>;
    }
    const leaf = path.at(-1) as string;
    target[leaf] =
      ["models", "pinned", "adapters"].includes(leaf) && value !== "all" ? value.split(",") : value;
  }
  return out;
}

function deepMerge(...layers: Record<string, unknown>[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer)) {
      if (value === undefined) continue;
      const previous = out[key];
      out[key] =
        value &&
        typeof value === "object" &&
        !Array.isArray(value) &&
        previous &&
        typeof previous === "object"
          ? deepMerge(previous as Record<string, unknown>, value as Record<string, unknown>)
          : value;
    }
  }
  return out;
}

/** Merges file < env < flags and validates the result. */
export function loadRunnerConfig(sources: {
  file?: string;
  env?: NodeJS.ProcessEnv;
  flags?: Record<string, unknown>;
}): RunnerConfig {
  let fromFile: Record<string, unknown> = {};
  if (sources.file) {
    try {
      fromFile = JSON.parse(readFileSync(sources.file, "utf8"));
    } catch (error) {
      throw new ConfigError([`config file ${sources.file}: ${(error as Error).message}`]);
    }
  }
  const merged = deepMerge(fromFile, configFromEnv(sources.env ?? {}), sources.flags ?? {});
  const parsed = runnerConfigSchema.safeParse(merged);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const key = issue.path.join(".") || "(config)";
        const hint = key === "privateKey" ? " (set OPENLORA_RUNNER_KEY)" : "";
        return `${key}: ${issue.message}${hint}`;
      }),
    );
  }
  return parsed.data;
}
