/**
 * `openlora verify-receipt`: checks the receipt the user holds, not the runner's copy of it: its
 * runner signature (as Settlement would accept it), its Merkle inclusion in the batch the runner
 * settled on-chain (the leaf computed from the user's fields), what the chain settled for its call,
 * and which of its fields differ from the runner's copy.
 */
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { type Hex, isAddressEqual } from "viem";
import type { OpenLoRAClient } from "../../../sdk/client";
import {
  checkReceiptSignature,
  type InclusionProof,
  inclusionProofFromJson,
  receiptDifferences,
  type SavedReceipt,
  type SignatureCheck,
  savedReceiptFromJson,
  settledVoucherOf,
  verifyReceiptInclusion,
} from "../../../sdk/consumer/receipts";
import { requestHash as hashOfRequest } from "../../../sdk/protocol/typedData";
import { CliError, ExitCode } from "../errors";
import { action, amountFormatter, connect, flagsOf, output, toJson, withChainOptions } from "./chainOptions";
import { reachRunner, withRunnerTimeout } from "./runnerHttp";

interface VerifyFlags {
  proof?: string;
  receipt?: string;
  runnerUrl?: string;
  requestHash?: string;
  timeoutMs: number;
}

export function registerVerifyReceipt(program: Command): void {
  withRunnerTimeout(
    withChainOptions(
      program
        .command("verify-receipt")
        .description(
          "check your receipt: the runner's signature, its inclusion in a batch settled on-chain (Merkle proof), what was settled for it, and where it differs from the runner's copy",
        )
        .option(
          "--receipt <file>",
          "your receipt, as `openlora call --receipt-out` saves it (or one line of `--out`)",
        )
        .option("--proof <file>", "the inclusion proof as JSON (runner, sequence, receipt, proof)")
        .option(
          "--runner-url <url>",
          "fetch the proof from this runner (GET /v2/receipts/{requestHash}/proof; default: the runner your receipt names)",
        )
        .option("--request-hash <hash>", "the receipt's request hash (with --runner-url and no --receipt)"),
    ),
  ).action(
    action(async (options: VerifyFlags, command: Command) => {
      const saved = options.receipt ? readSavedReceipt(options.receipt) : null;
      const runnersCopy = await findProof(options, saved);
      const { client } = await connect(command, { account: false });
      const fmt = await amountFormatter(client);
      const receipt = saved?.receipt ?? runnersCopy.receipt;
      const runner = saved?.runner ?? runnersCopy.runner;
      const findings: string[] = [];

      if (!isAddressEqual(runner, runnersCopy.runner))
        findings.push(`runner differs: your receipt ${runner}, the proof's ${runnersCopy.runner}`);
      const differences = receiptDifferences(receipt, runnersCopy.receipt);
      for (const d of differences)
        findings.push(`${d.field} differs: your receipt ${d.yours}, the runner's ${d.theirs}`);

      let signature: SignatureCheck | undefined;
      if (saved) {
        signature = await checkReceiptSignature(client, receipt, saved.receiptSignature, runner);
        if (!signature.valid)
          findings.push(
            `receiptSignature is not the runner's signature of this receipt: ${signature.reason}`,
          );
      }

      const inclusion = await verifyReceiptInclusion(client, {
        runner,
        sequence: runnersCopy.sequence,
        receipt,
        proof: runnersCopy.proof,
      });
      if (!inclusion.included || !inclusion.locallyVerified) {
        findings.push(
          `the receipt is not included in that settled batch (batch ${runnersCopy.sequence} of runner ${runner}, root ${inclusion.root})`,
        );
      }

      // What the call cost is not in the signed receipt: it is checked against what the chain
      // settled for the call, once the receipt itself is shown to be the settled one.
      const settled =
        saved && findings.length === 0 && (saved.amount !== undefined || saved.voucher)
          ? await settlementOf(client, saved, fmt)
          : undefined;
      if (settled) findings.push(...settled.findings);

      const valid = findings.length === 0;
      const summary = {
        valid,
        included: inclusion.included,
        locallyVerified: inclusion.locallyVerified,
        ...(signature ? { signatureValid: signature.valid } : {}),
        ...(signature && !signature.valid ? { signatureProblem: signature.reason } : {}),
        leaf: inclusion.leaf,
        root: inclusion.root,
        runner,
        sequence: runnersCopy.sequence,
        receipt,
        differences,
        ...(settled ? { settled: settled.voucher } : {}),
        findings,
      };
      const failure = () => new CliError(findings.join("; "), ExitCode.rejected, JSON.parse(toJson(summary)));
      // --json prints one object: the error with the findings as details.
      if (!valid && flagsOf(command).json) throw failure();
      output(command, summary, () => [
        `receipt of call ${receipt.callIndex} on channel ${receipt.channelId}, model ${receipt.modelId}`,
        `  runner's   ${differences.length === 0 ? "the same receipt" : `differs in ${differences.map((d) => d.field).join(", ")}`}`,
        ...(signature === undefined
          ? []
          : [
              `  signature  ${signature.valid ? "signed by the runner" : `NOT signed by the runner: ${signature.reason}`}`,
            ]),
        `  leaf       ${inclusion.leaf}`,
        `  batch      ${runnersCopy.sequence} of runner ${runner}, root ${inclusion.root}`,
        `  on-chain   ${inclusion.included ? "included (Settlement.verifyReceipt)" : "NOT included"}`,
        `  local      ${inclusion.locallyVerified ? "proof reaches the stored root" : "proof does not reach the stored root"}`,
        ...(settled ? [`  amount     ${settled.line}`] : []),
      ]);
      if (!valid) throw failure();
    }),
  );
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new CliError(`cannot read ${file}: ${(error as Error).message}`, ExitCode.usage, { file });
  }
}

function readSavedReceipt(file: string): SavedReceipt {
  try {
    return savedReceiptFromJson(readJson(file));
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(`${file}: ${(error as Error).message}`, ExitCode.usage, { file });
  }
}

/**
 * The runner's copy of the receipt with its proof: from --proof, or from the runner, looked up by
 * the receipt's request hash, or, when the runner knows no such request, by the hash of the
 * request the receipt file says was sent (so that an edited requestHash is named, not just missed).
 */
async function findProof(options: VerifyFlags, saved: SavedReceipt | null): Promise<InclusionProof> {
  if (options.proof) return inclusionProofFromJson(readJson(options.proof));
  const runnerUrl = options.runnerUrl ?? (saved?.url ? originOf(saved.url) : undefined);
  if (!runnerUrl)
    throw new CliError("give the proof with --proof <file> or --runner-url <url>", ExitCode.usage);
  const named = options.requestHash ?? saved?.receipt.requestHash;
  if (!named || !/^0x[0-9a-fA-F]{64}$/.test(named))
    throw new CliError("name the receipt with --request-hash or --receipt", ExitCode.usage);
  const found = await fetchProof(runnerUrl, named as Hex, options.timeoutMs);
  if (found) return inclusionProofFromJson(found);
  if (saved?.request !== undefined) {
    const { channelId, modelId, callIndex } = saved.receipt;
    const sent = hashOfRequest(channelId, modelId, callIndex, saved.request);
    const bySent =
      sent.toLowerCase() === named.toLowerCase()
        ? null
        : await fetchProof(runnerUrl, sent, options.timeoutMs);
    if (bySent) return inclusionProofFromJson(bySent);
  }
  throw new CliError(
    `the runner has no settled receipt for request ${named} (not settled yet? try \`openlora settle\`)`,
    ExitCode.rejected,
    { runnerUrl, requestHash: named },
  );
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    throw new CliError(`the receipt's url is not a URL: "${url}" (pass --runner-url)`, ExitCode.usage);
  }
}

/** The runner's proof of a receipt, or null when it has settled no such receipt. */
async function fetchProof(runnerUrl: string, requestHash: Hex, timeoutMs: number): Promise<unknown | null> {
  const url = `${runnerUrl.replace(/\/+$/, "")}/v2/receipts/${requestHash}/proof`;
  const { status, ok, text } = await reachRunner(runnerUrl, timeoutMs, async (signal) => {
    const response = await fetch(url, { signal });
    return { status: response.status, ok: response.ok, text: await response.text() };
  });
  if (status === 404) return null;
  if (!ok) throw new CliError(`the runner answered ${status} for ${url}`, ExitCode.rejected, { url });
  try {
    return JSON.parse(text);
  } catch {
    throw new CliError(`the runner's proof at ${url} is not JSON`, ExitCode.rejected, { url });
  }
}

/**
 * The saved amount and voucher against the voucher the chain settled for the call. A settled
 * voucher pays for a run of calls; their price is known exactly when the run was paid at one
 * price (its amount divides evenly), as the runner charges while a model's price stays put.
 */
async function settlementOf(client: OpenLoRAClient, saved: SavedReceipt, fmt: (value: bigint) => string) {
  const { channelId, modelId, callIndex } = saved.receipt;
  const voucher = await settledVoucherOf(client, { runner: saved.runner, channelId, modelId }, callIndex);
  const lane = `channel ${channelId}, model ${modelId}`;
  if (!voucher) {
    const why = `the chain has settled no voucher for call ${callIndex} of lane (${lane})`;
    return { voucher, line: why, findings: [`amount cannot be checked: ${why}`] };
  }
  const calls = voucher.lastCall - voucher.firstCall + 1n;
  const run = `calls ${voucher.firstCall}-${voucher.lastCall} of lane (${lane}), ${fmt(voucher.amount)} in all`;
  if (voucher.amount % calls !== 0n)
    return { voucher, line: `not checked: ${run}, not at one price`, findings: [] as string[] };
  const perCall = voucher.amount / calls;
  const findings: string[] = [];
  if (saved.amount !== undefined && saved.amount !== perCall)
    findings.push(
      `amount differs: your receipt ${fmt(saved.amount)}, the chain settled ${fmt(perCall)} per call (${run})`,
    );
  if (saved.voucher) {
    const cumulative =
      voucher.cumulativeAmount - voucher.amount + (callIndex - voucher.firstCall + 1n) * perCall;
    if (saved.voucher.cumulativeCalls !== callIndex)
      findings.push(
        `voucher.cumulativeCalls differs: your receipt ${saved.voucher.cumulativeCalls}, the receipt's callIndex ${callIndex}`,
      );
    if (saved.voucher.cumulativeAmount !== cumulative)
      findings.push(
        `voucher.cumulativeAmount differs: your receipt ${fmt(saved.voucher.cumulativeAmount)}, the chain's ${fmt(cumulative)}`,
      );
    if (
      callIndex === voucher.lastCall &&
      saved.voucher.transcriptHash.toLowerCase() !== voucher.transcriptHash.toLowerCase()
    )
      findings.push(
        `voucher.transcriptHash differs: your receipt ${saved.voucher.transcriptHash}, the chain's ${voucher.transcriptHash}`,
      );
  }
  return { voucher, line: `${fmt(perCall)}, as the chain settled per call (${run})`, findings };
}
