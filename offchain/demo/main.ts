// `npm run demo`: the main job on a local anvil chain (see flow.ts). Flags:
//   --calls N   paid calls in total (default 3000)
//   --no-train  use the committed adapters instead of training them now
//   --keep      leave the chain and the runner (and its dashboard) up until Ctrl-C
import { formatUnits } from "viem";
import { type DemoReport, runDemo } from "./flow";

function parseArgs(argv: string[]) {
  const calls = argv.includes("--calls") ? Number(argv[argv.indexOf("--calls") + 1]) : 3_000;
  if (!Number.isInteger(calls) || calls < 6) throw new Error("--calls needs a whole number of at least 6");
  return { calls, train: !argv.includes("--no-train"), keep: argv.includes("--keep") };
}

const usd = (amount: bigint) => `${formatUnits(amount, 6)} tUSD`;
const short = (address: string) => `${address.slice(0, 6)}…${address.slice(-4)}`;

function print(report: DemoReport) {
  console.log("\nModels");
  console.table(
    report.models.map((m) => ({
      model: `${m.modelId} ${m.name}`,
      "held-out accuracy": m.accuracy.toFixed(3),
      calls: Number(m.calls),
      revenue: usd(m.revenue),
    })),
  );
  console.log("Contributors (claimed on-chain, by co-training share units)");
  console.table(
    report.contributors.map((c) => ({
      contributor: `${c.name} ${short(c.account)}`,
      model: Number(c.modelId),
      units: Number(c.units),
      claimed: usd(c.claimed),
    })),
  );
  console.log("Vaults (ERC-4626; revenue unlocks linearly)");
  console.table(
    report.vaults.map((v) => ({
      model: Number(v.modelId),
      vault: short(v.vault),
      "revenue in": usd(v.revenue),
      "still unlocking": usd(v.stillUnlocking),
      "share price": formatUnits(v.sharePrice, 6),
      investors: v.investors
        .map((i) => `${short(i.account)} ${usd(i.deposited)} → ${usd(i.worth)}`)
        .join("; "),
    })),
  );
  console.log(`Runner ${short(report.runner.address)} earned ${usd(report.runner.fees)} in fees`);
  console.log(
    `Treasury ${short(report.treasury.address)} earned ${usd(report.treasury.fees)} in protocol fees`,
  );
  console.log(
    `Consumers paid ${usd(report.consumersPaid)}; contributors, vaults, runner and treasury received ${usd(report.received)}` +
      (report.received === report.consumersPaid ? " (equal to the wei)" : " (MISMATCH)"),
  );
  const s = report.settlement;
  console.log(
    `Settlement: ${s.batches} batch(es) for ${s.calls} calls and a flush of the models' revenue, ${s.gasUsed} gas in all: ${s.gasPerCall.toFixed(1)} gas per paid call`,
  );
  console.log(
    `Proof: receipt ${report.proof.requestHash.slice(0, 18)}… is in batch ${report.proof.sequence} ` +
      `(${report.proof.proofLength} sibling hashes): Settlement.verifyReceipt says ${report.proof.included}`,
  );
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const started = performance.now();
  const report = await runDemo({ ...options, log: (line) => console.log(`· ${line}`) });
  print(report);
  console.log(`\nDone in ${((performance.now() - started) / 1000).toFixed(0)} s.`);
  if (report.received !== report.consumersPaid) process.exitCode = 1;
  if (options.keep) {
    console.log(`Runner: ${report.runnerUrl}  chain: ${report.rpcUrl}`);
    if (report.dashboardUrl) console.log(`Dashboard: ${report.dashboardUrl}`);
    console.log("Ctrl-C stops everything.");
    await new Promise<void>((resolve) => process.once("SIGINT", resolve));
    await report.stop();
  }
}

main().catch((error) => {
  console.error(`demo failed: ${error instanceof Error ? error.message : error}`);
  process.exitCode = 1;
});
