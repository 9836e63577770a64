// `npm run bench:http`: paid calls per second end to end on loopback. A separate load process
// (httpLoad.ts) runs virtual clients, each on its own payment channel, with a real voucher per
// call (signed before the clock starts, or inline with BENCH_SIGN=inline); the runner verifies
// it, runs the model in micro-batches, signs and journals the receipt (fsync, group commit)
// before answering. The same runner with payment off is the baseline: the HTTP layer's
// `freeOfCharge` option, which only startRunner's programmatic argument sets (no config key,
// environment variable or CLI flag reaches it), so no deployed runner can be configured to
// serve without payment. Everything runs on a
// local anvil with the deployed protocol. Also prints each process's CPU use while measured (the
// anvil's too: it shares the cores), how busy the runner's event loop was (the thread that
// parses HTTP, gates payments, journals), the CPU of the runner's main thread and of its busiest
// other thread (the inference thread, or with OPENLORA_INFERENCE_THREAD=false the signature
// thread), and how idle the machine was (whether something else held a core). Each mode runs
// BENCH_ROUNDS times (3), in rotated order, and the table gives medians: single runs on this
// shared machine vary by a third.
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { USE_LITE_HASH } from "../ml/base/useLite/useLiteBase";
import { contentHash } from "../ml/hash";
import { loadRunnerConfig } from "../runner/config";
import { paymentTerms } from "../runner/paidCall";
import { startRunner } from "../runner/runner";
import {
  deployProtocol,
  devAccount,
  openChannel,
  privateKeyOf,
  registerAdapter,
  registerBaseModel,
  registerRunner,
} from "../runner/testing/protocolFixture";
import { LOAD_STARTED, WARM_UP_MS } from "./httpLoadProtocol";
import { report } from "./table";

/** Client counts to measure, one after another (BENCH_CLIENTS=16,32). */
const CLIENT_COUNTS = (process.env.BENCH_CLIENTS ?? "16,32").split(",").map(Number);
const DURATION_MS = Number(process.env.BENCH_SECONDS ?? 8) * 1000;
/** Runs of each mode; the table gives each figure's median over them, and their range. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SIGN_INLINE = process.env.BENCH_SIGN === "inline";
/** BENCH_RATE=2000 offers that many calls per second on a schedule instead of back to back. */
const RATE = process.env.BENCH_RATE ? Number(process.env.BENCH_RATE) : null;
/** Vouchers each client signs before the clock starts: enough for 3,000 calls/s in all. */
const presignedFor = (clients: number) =>
  Math.ceil((((DURATION_MS + WARM_UP_MS) / 1000) * Math.max(3_000, 1.5 * (RATE ?? 0))) / clients);
const SPAM = "offchain/ml/models/spam-filter";

interface Mode {
  name: string;
  paid: boolean;
  settle: boolean;
}

interface LoadResult {
  calls: number;
  errors: number;
  seconds: number;
  p50: number;
  p99: number;
  cpuPercent: number;
}

interface RunResult extends LoadResult {
  rate: number;
  runnerCpu: number;
  loopBusy: number;
  anvilCpu: number | null;
  settled: number;
  /** Journal compactions during the run (OPENLORA_SETTLEMENT__COMPACT_JOURNAL_MB sets how often). */
  compactions: number;
  /** Rows per micro-batch over the runner's life (warm-up included). */
  batchRows: number;
  mainThread: number;
  busiestThread: number;
  machineIdle: number | null;
}

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
};

/** A process's user + system CPU time in ms, from /proc (Linux; null elsewhere). */
function processCpuMs(pid: number): number | null {
  try {
    // Fields 14 and 15 (utime, stime) in clock ticks of 10 ms, after the command in parentheses.
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return null;
  }
}

/** CPU ms of each of this process's threads, by thread id (Linux; empty elsewhere). */
function threadCpuMs(): Map<number, number> {
  const threads = new Map<number, number>();
  try {
    for (const tid of readdirSync("/proc/self/task")) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(") ") + 2).split(" ");
      threads.set(Number(tid), (Number(fields[11]) + Number(fields[12])) * 10);
    }
  } catch {
    // a thread that ended while listed, or no /proc: what was read is kept
  }
  return threads;
}

/** The machine's idle and total CPU ticks over all cores, from /proc/stat (null elsewhere). */
function machineTicks(): { idle: number; total: number } | null {
  try {
    const cpu = readFileSync("/proc/stat", "utf8").split("\n")[0]?.split(/\s+/).slice(1).map(Number) ?? [];
    const total = cpu.slice(0, 8).reduce((sum, ticks) => sum + ticks, 0); // user … steal
    return { idle: (cpu[3] ?? 0) + (cpu[4] ?? 0), total }; // idle + iowait
  } catch {
    return null;
  }
}

/**
 * This process's CPU by thread over a window: the main thread's (the event loop) and the
 * busiest other thread's (the inference thread when it is on, else the signature thread), in %
 * of one core; and how idle the machine's cores were, in % of all of them.
 */
function threadWindow() {
  const threads = threadCpuMs();
  const machine = machineTicks();
  return (seconds: number) => {
    const now = threadCpuMs();
    const used = [...now].map(([tid, ms]) => ({ tid, ms: ms - (threads.get(tid) ?? 0) }));
    const main = used.find((t) => t.tid === process.pid)?.ms ?? 0;
    const other = Math.max(0, ...used.filter((t) => t.tid !== process.pid).map((t) => t.ms));
    const after = machineTicks();
    const idle =
      machine && after
        ? (100 * (after.idle - machine.idle)) / Math.max(1, after.total - machine.total)
        : null;
    return { mainThread: main / 10 / seconds, busiestThread: other / 10 / seconds, machineIdle: idle };
  };
}

/**
 * Runs the load process; `onStart` is called when its clock starts (after presigning and its
 * warm-up), so the runner's CPU use is measured over the same window as the calls.
 */
function runLoad(spec: unknown, onStart: () => void): Promise<LoadResult> {
  const json = JSON.stringify(spec, (_k, v) => (typeof v === "bigint" ? `${v}n` : v));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "offchain/bench/httpLoad.ts", json], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      if (out.startsWith(`${LOAD_STARTED}\n`)) {
        out = out.slice(LOAD_STARTED.length + 1);
        onStart();
      }
    });
    child.on("exit", (code) =>
      code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`load process exited ${code}`)),
    );
  });
}

/** A client count's rows: each mode's medians over its runs, and its ratios to payment off. */
function tableRows(modes: Mode[], runs: Map<Mode, RunResult[]>, clients: number) {
  const unpaid = modes.find((mode) => !mode.paid);
  const off = unpaid ? runs.get(unpaid) : undefined;
  const offRate = off ? median(off.map((r) => r.rate)) : null;
  const offP99 = off ? median(off.map((r) => r.p99)) : null;
  return modes.map((mode) => {
    const results = runs.get(mode) ?? [];
    const of = (pick: (r: RunResult) => number) => median(results.map(pick));
    const range = (pick: (r: RunResult) => number, digits: number) => {
      const values = results.map(pick);
      return `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}`;
    };
    const anvil = results.map((r) => r.anvilCpu);
    const idle = results.map((r) => r.machineIdle);
    return {
      clients,
      mode: mode.name,
      ...(RATE ? { "offered/s": RATE } : {}),
      "calls/s": Math.round(of((r) => r.rate)),
      "calls/s, runs": range((r) => r.rate, 0),
      "vs payment off": offRate ? Number((of((r) => r.rate) / offRate).toFixed(2)) : "n/a",
      "p50 ms": Number(of((r) => r.p50).toFixed(2)),
      "p99 ms": Number(of((r) => r.p99).toFixed(2)),
      "p99 ms, runs": range((r) => r.p99, 1),
      "p99 / payment off's": offP99 ? Number((of((r) => r.p99) / offP99).toFixed(2)) : "n/a",
      "rows per batch": Number(of((r) => r.batchRows).toFixed(1)),
      errors: results.reduce((n, r) => n + r.errors, 0),
      "runner CPU %": Math.round(of((r) => r.runnerCpu)),
      "runner loop busy %": Math.round(of((r) => r.loopBusy)),
      "main thread CPU %": Math.round(of((r) => r.mainThread)),
      "busiest other thread CPU %": Math.round(of((r) => r.busiestThread)),
      "machine idle %": idle.includes(null) ? "n/a" : Math.round(median(idle as number[])),
      "load CPU %": Math.round(of((r) => r.cpuPercent)),
      "anvil CPU %": anvil.includes(null) ? "n/a" : Math.round(median(anvil as number[])),
      "settled on-chain": Math.round(of((r) => r.settled)),
      "journal compactions": Math.round(of((r) => r.compactions)),
    };
  });
}

const tmp = mkdtempSync(path.join(os.tmpdir(), "openlora-bench-http-"));
const protocol = await deployProtocol();
try {
  const deploymentsFile = path.join(tmp, "deployment.json");
  writeFileSync(deploymentsFile, JSON.stringify(protocol.deployment));
  const baseModelId = await registerBaseModel(protocol, USE_LITE_HASH);
  const owner = devAccount(1);
  const adapterHash = contentHash(readFileSync(path.join(SPAM, "adapter_model.safetensors")));
  const modelId = await registerAdapter(
    protocol,
    owner,
    { baseModelId, adapterHash, pricePerCall: 100n, vaultShareBps: 1_000 },
    [{ account: owner, units: 1n }],
  );
  const runnerAccount = devAccount(3);
  await registerRunner(protocol, runnerAccount, "http://127.0.0.1", 500);
  /** Fresh channels for each mode, so that no run replays another's vouchers. */
  const openClients = async (count: number) => {
    const clients: { channelId: string; privateKey: `0x${string}` }[] = [];
    for (let i = 0; i < count; i++) {
      const index = 4 + (i % 6); // dev accounts 4..9 hold ETH; each opens several channels
      const channelId = await openChannel(protocol, devAccount(index), runnerAccount.address, 10n ** 12n);
      clients.push({ channelId: channelId.toString(), privateKey: privateKeyOf(index) });
    }
    return clients;
  };

  const config = (dataDir: string, settleDuringRun: boolean) =>
    loadRunnerConfig({
      env: { ...process.env, OPENLORA_RUNNER_KEY: privateKeyOf(3) }, // OPENLORA_* tunes the runner
      flags: {
        rpcUrl: protocol.anvil.rpcUrl,
        deployments: deploymentsFile,
        port: 0,
        dataDir: path.join(tmp, dataDir),
        adapters: [SPAM],
        // Settling: every 5,000 calls (the size threshold; at most once a second, which at these
        // rates 5,000 calls take longer than), on the anvil that shares the machine; anvil mines a
        // block per transaction only, so no confirmations are awaited. Deferred: nothing is
        // settled while the clock runs.
        settlement: settleDuringRun
          ? { intervalMs: 1_000, maxAgeMs: 3_600_000, maxCalls: 5_000, confirmations: 0 }
          : { intervalMs: 3_600_000, maxCalls: 1_000_000_000, confirmations: 0 },
      },
    });
  const modes: Mode[] = [
    { name: "paid, settling every 5,000 calls", paid: true, settle: true },
    { name: "paid, settlement deferred", paid: true, settle: false },
    { name: "payment off", paid: false, settle: false },
  ].filter((m) => process.env.BENCH_MODES !== "paid" || m.paid);

  /** One run of a mode: a fresh runner on fresh channels, loaded for DURATION_MS. */
  const measure = async ({ paid, settle }: Mode, clients: number, dataDir: string): Promise<RunResult> => {
    const runner = await startRunner(config(dataDir, settle), {}, pino({ level: "silent" }), {
      freeOfCharge: !paid,
    });
    const model = await runner.catalog.model(modelId);
    if (!model) throw new Error("the model is not served");
    const terms = paymentTerms(
      { ...protocol.deployment, chainId: runner.chainId, runner: runner.address },
      model,
    );
    let cpuAtStart = process.cpuUsage();
    let loopAtStart = performance.eventLoopUtilization();
    let anvilAtStart = processCpuMs(protocol.anvil.pid);
    let threads = threadWindow();
    const result = await runLoad(
      {
        url: `${runner.url}/v2/models/${modelId}/infer`,
        paid,
        durationMs: DURATION_MS,
        chainId: runner.chainId,
        terms,
        clients: await openClients(clients),
        presigned: presignedFor(clients),
        signInline: SIGN_INLINE,
        rate: RATE,
      },
      () => {
        cpuAtStart = process.cpuUsage();
        loopAtStart = performance.eventLoopUtilization();
        anvilAtStart = processCpuMs(protocol.anvil.pid);
        threads = threadWindow();
      },
    );
    const byThread = threads(result.seconds);
    const cpu = process.cpuUsage(cpuAtStart);
    const loop = performance.eventLoopUtilization(loopAtStart);
    const anvilAtEnd = processCpuMs(protocol.anvil.pid);
    const settled = runner.settler.settled.receipts;
    const compactions = await runner.metrics.journalCompactions.get();
    const batches = (await runner.metrics.batchSize.get()).values;
    const total = (suffix: string) =>
      batches.filter((v) => v.metricName?.endsWith(suffix)).reduce((n, v) => n + v.value, 0);
    await runner.stop({ settle: false });
    return {
      ...result,
      rate: result.calls / result.seconds,
      runnerCpu: (cpu.user + cpu.system) / 1e4 / result.seconds,
      loopBusy: loop.utilization * 100,
      anvilCpu:
        anvilAtStart === null || anvilAtEnd === null
          ? null
          : (anvilAtEnd - anvilAtStart) / 10 / result.seconds,
      settled,
      compactions: compactions.values.reduce((n, v) => n + v.value, 0),
      batchRows: total("_sum") / Math.max(1, total("_count")),
      ...byThread,
    };
  };

  // Rounds of every mode, in an order rotated from round to round, so that a slow spell of the
  // machine (or the first run's warm-up) does not fall on one mode alone.
  const rows: Record<string, string | number>[] = [];
  for (const clients of CLIENT_COUNTS) {
    const runs = new Map<Mode, RunResult[]>(modes.map((mode) => [mode, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (let k = 0; k < modes.length; k++) {
        const index = (round + k) % modes.length;
        const mode = modes[index] as Mode;
        runs.get(mode)?.push(await measure(mode, clients, `run-${clients}-${round}-${index}`));
      }
    }
    rows.push(...tableRows(modes, runs, clients));
  }
  report("HTTP end to end on loopback (load in a separate process, 2 cores shared)", rows, {
    runs: `${ROUNDS} of each mode, in rotated order; figures are medians over them`,
    load: RATE
      ? `${RATE} calls/s offered on a schedule over each client count's lanes; latency from when each call was due`
      : "clients calling back to back",
    model: "the committed spam-filter PEFT adapter on USE-lite; short texts (one token bucket of 16)",
    vouchers: SIGN_INLINE ? "signed inline, before each call" : "signed before the clock starts",
    inference: config("probe", false).inferenceThread
      ? "on the inference thread (OPENLORA_INFERENCE_THREAD=false: on the event loop)"
      : "on the event loop (OPENLORA_INFERENCE_THREAD=false)",
    aim: "paid ≥ 0.9× the calls/s of payment off, p99 ≤ 2× its p99",
  });
} finally {
  await protocol.stop();
  rmSync(tmp, { recursive: true, force: true });
}
