// `npm run bench:gas`: gas of Settlement.settle, whole transactions as a runner pays them.
// Runs the scenarios of test/integration/SettlementGas.t.sol with `forge test --isolate` (every
// call its own transaction: 21,000 base, calldata, cold storage) and derives the figures that
// matter: settle for one lane, gas per paid call at 1, 100 and 10,000 calls per lane voucher, and
// the cost of each extra lane in a 50-lane, 10-model settle. `--json` prints one JSON object.
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

function runScenarios(): Scenario[] {
  let output: string;
  try {
    output = execFileSync(
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

const scenarios = runScenarios();
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

report("Settlement.settle gas (whole transactions, forge --isolate)", rows, {
  settleOneLane: oneLane.gas,
  gasPerPaidCallAt10000CallsPerLane: Number(perCallAt10k.toFixed(1)),
  extraLaneIn50Lanes10Models: extraLane,
  extraNewLaneIn50Lanes10Models: extraNewLane,
  extraLaneSameModels,
  extraNewLaneSameModels,
  aimPerPaidCallUnder100: perCallAt10k < 100,
  aimExtraLaneUnder40000: extraLane < 40_000,
});
