// `npm run bench:gas`: gas of Settlement.settle, whole transactions as a runner pays them.
// Runs the scenarios of test/integration/SettlementGas.t.sol with `forge test --isolate` (every
// call its own transaction: 21,000 base, calldata, cold storage) and derives the figures that
// matter: settle for one lane, gas per paid call at 1, 100 and 10,000 calls per lane voucher, and
// the cost of each extra lane in a 50-lane, 10-model settle; then where the gas goes (proxy hops,
// cold accounts and slots, storage writes, logs), counted from forge's state-diff recording and
// priced by EIP-2929/2200. `--json` prints one JSON object.
import { execFileSync } from "node:child_process";
import { report } from "./table";

interface Scenario {
  name: string;
  gas: number;
  lanes: number;
  models: number;
  callsPerLane: number;
}

class BenchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BenchError";
  }
}

/** What one settle touched (test_Bench_Breakdown): counts, each first touch cold in a real transaction. */
/** The counts of a BREAKDOWN line, in the order SettlementGas.t.sol prints them. */
const BREAKDOWN_COUNTS = [
  "calls",
  "proxyHops",
  "implementations",
  "coldAccounts",
  "coldSlots",
  "changedSlots",
  "newSlots",
  "logs",
  "logTopics",
  "logBytes",
] as const;

type Breakdown = { name: string } & Record<(typeof BREAKDOWN_COUNTS)[number], number>;

interface ContractSlots {
  scenario: string;
  contract: string;
  slots: number;
  changed: number;
}

function runForge(): string {
  try {
    return execFileSync(
      "tools/bin/forge",
      ["test", "--isolate", "--match-contract", "SettlementGasBench", "-vv"],
      { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 * 1024 * 1024 },
    );
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string };
    throw new BenchError(
      `forge test failed:\n${failed.stdout ?? ""}${failed.stderr ?? ""}`.trim().slice(-4000),
    );
  }
}

function parseScenarios(output: string): Scenario[] {
  const scenarios: Scenario[] = [];
  for (const line of output.split("\n")) {
    const match = /^\s*BENCH (\d+) (\d+) (\d+) (\d+) (.+)$/.exec(line);
    if (!match) continue;
    const [, gas, lanes, models, calls, name] = match as unknown as [
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    scenarios.push({
      name: name.trim(),
      gas: Number(gas),
      lanes: Number(lanes),
      models: Number(models),
      callsPerLane: Number(calls),
    });
  }
  if (scenarios.length === 0) throw new BenchError("the benchmark printed no BENCH lines");
  return scenarios;
}

function find(scenarios: Scenario[], name: string): Scenario {
  const found = scenarios.find((s) => s.name === name);
  if (!found) throw new BenchError(`scenario "${name}" is missing from the benchmark output`);
  return found;
}

function parseBreakdowns(output: string): Breakdown[] {
  const rows: Breakdown[] = [];
  for (const line of output.split("\n")) {
    const match = /^\s*BREAKDOWN ((?:\d+ ){10})(.+)$/.exec(line);
    if (!match) continue;
    const counts = (match[1] as string).trim().split(" ").map(Number);
    const row = { name: (match[2] as string).trim() } as Breakdown;
    BREAKDOWN_COUNTS.forEach((field, i) => {
      row[field] = counts[i] as number;
    });
    rows.push(row);
  }
  if (rows.length === 0) throw new BenchError("the benchmark printed no BREAKDOWN lines");
  return rows;
}

function parseSlots(output: string): ContractSlots[] {
  const rows: ContractSlots[] = [];
  for (const line of output.split("\n")) {
    const match = /^\s*SLOTS (\S+) (\d+) (\d+) (.+)$/.exec(line);
    if (!match) continue;
    rows.push({
      contract: match[1] as string,
      slots: Number(match[2]),
      changed: Number(match[3]),
      scenario: (match[4] as string).trim(),
    });
  }
  return rows;
}

// EIP-2929 / EIP-2200 prices of the first touch of an account or slot, of a write, and of a log.
const COLD_ACCOUNT = 2_600;
const COLD_SLOT = 2_100;
const CHANGED_SLOT = 2_900; // a non-zero slot changed (on top of its cold read)
const NEW_SLOT = 20_000; // a zero slot set (on top of its cold read)
// A proxy's first entry into an implementation reads the slot naming it and the implementation's
// account cold (both also counted below); a later one costs about 900 (warm reads, calldata copy),
// as seen in forge's -vvvv traces.
const COLD_HOP = COLD_ACCOUNT + COLD_SLOT;
const WARM_HOP = 900;

function priced(b: Breakdown) {
  const writes = (b.changedSlots - b.newSlots) * CHANGED_SLOT + b.newSlots * NEW_SLOT;
  const logs = 375 * (b.logs + b.logTopics) + 8 * b.logBytes;
  return {
    scenario: b.name,
    calls: b.calls,
    "proxy hops (cold)": `${b.proxyHops} (${b.implementations})`,
    "≈ gas of proxy hops": b.implementations * COLD_HOP + (b.proxyHops - b.implementations) * WARM_HOP,
    "cold accounts": b.coldAccounts,
    "≈ gas": b.coldAccounts * COLD_ACCOUNT,
    "cold slots": b.coldSlots,
    "≈ gas ": b.coldSlots * COLD_SLOT,
    "slots written (new)": `${b.changedSlots} (${b.newSlots})`,
    "≈ gas  ": writes,
    "logs (topics, bytes)": `${b.logs} (${b.logTopics}, ${b.logBytes})`,
    "≈ gas   ": logs,
  };
}

const output = runForge();
const scenarios = parseScenarios(output);
const breakdowns = parseBreakdowns(output);
const slotsByContract = parseSlots(output);
const oneLane = find(scenarios, "1 lane, 1 call");
const oneNewLane = find(scenarios, "1 lane, new lane, 1 call");
const tenLanes = find(scenarios, "10 lanes over 10 models");
const tenNewLanes = find(scenarios, "10 lanes over 10 models, new lanes");
const fiftyLanes = find(scenarios, "50 lanes over 10 models");
const fiftyNewLanes = find(scenarios, "50 lanes over 10 models, new lanes");
const tenThousand = find(scenarios, "1 lane, 10000 calls");

const perCallAt10k = tenThousand.gas / tenThousand.callsPerLane;
// Each extra lane of a 50-lane, 10-model settle over a 1-lane settle: its own cost plus its share
// of the 9 extra models (registry usage, vault and holder revenue of each).
const extraLane = Math.round((fiftyLanes.gas - oneLane.gas) / (fiftyLanes.lanes - oneLane.lanes));
const extraNewLane = Math.round(
  (fiftyNewLanes.gas - oneNewLane.gas) / (fiftyNewLanes.lanes - oneNewLane.lanes),
);
// Each extra lane on models already in the batch: the lane alone.
const extraLaneSameModels = Math.round((fiftyLanes.gas - tenLanes.gas) / (fiftyLanes.lanes - tenLanes.lanes));
const extraNewLaneSameModels = Math.round(
  (fiftyNewLanes.gas - tenNewLanes.gas) / (fiftyNewLanes.lanes - tenNewLanes.lanes),
);

const rows = scenarios.map((s) => ({
  scenario: s.name,
  lanes: s.lanes,
  models: s.models,
  "calls/lane": s.callsPerLane,
  "gas (tx)": s.gas,
  "gas/lane": Math.round(s.gas / s.lanes),
  "gas/paid call": Number((s.gas / (s.lanes * s.callsPerLane)).toFixed(1)),
}));

const figures = {
  settleOneLane: oneLane.gas,
  gasPerPaidCallAt10000CallsPerLane: Number(perCallAt10k.toFixed(1)),
  extraLaneIn50Lanes10Models: extraLane,
  extraNewLaneIn50Lanes10Models: extraNewLane,
  extraLaneSameModels,
  extraNewLaneSameModels,
  aimPerPaidCallUnder100: perCallAt10k < 100,
  aimSettleOneLaneAtMost150000: oneLane.gas <= 150_000,
  aimExtraLaneAtMost25000: extraLane <= 25_000,
  aimExtraNewLaneAtMost40000: extraNewLane <= 40_000,
};
const whereItGoes = breakdowns.map(priced);
const oneLaneSlots = slotsByContract
  .filter((r) => r.scenario === "1 lane, settled before")
  .map((r) => ({ contract: r.contract, "cold slots": r.slots, "slots changed": r.changed }));

if (process.argv.includes("--json")) {
  console.log(
    JSON.stringify({
      benchmark: "Settlement.settle gas (whole transactions, forge --isolate)",
      ...figures,
      rows,
      breakdown: breakdowns,
      slotsByContract,
    }),
  );
} else {
  report("Settlement.settle gas (whole transactions, forge --isolate)", rows, figures);
  report("Where the gas goes (counted touches, priced by EIP-2929/2200; ≈)", whereItGoes);
  report("Storage slots touched per contract, one lane settled before", oneLaneSlots);
}
