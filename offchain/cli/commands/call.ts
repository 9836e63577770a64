/**
 * `openlora call`: paid calls to a model on a runner, paying per call with vouchers on a channel
 * (the SDK's paying fetch), checking each receipt; `openlora settle`: asks a runner on this machine
 * to settle what it has served now.
 */
import { writeFileSync } from "node:fs";
import type { Command } from "commander";
import type { Account } from "viem";
import { getChannel, paidFetch } from "../../../sdk/consumer/channels";
import type { PaidReceipt } from "../../../sdk/consumer/payingFetch";
import { CliError, ExitCode } from "../errors";
import {
  action,
  amountFormatter,
  connect,
  output,
  parseId,
  progress,
  toJson,
  tokenAmount,
  withChainOptions,
} from "./chainOptions";

/** The Open Inference Protocol request body for one text. */
export function inferBody(text: string): string {
  return JSON.stringify({ inputs: [{ name: "text", datatype: "BYTES", shape: [1], data: [text] }] });
}

function baseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new Error("not http(s)");
    return url.replace(/\/+$/, "");
  } catch {
    throw new CliError(`not a runner URL: "${url}" (expected e.g. http://127.0.0.1:8080)`, ExitCode.usage);
  }
}

/** fetch, with an unreachable runner reported as exit code 3. */
async function reach<T>(url: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    if (error instanceof TypeError && /fetch failed/.test(error.message)) {
      throw new CliError(
        `cannot reach the runner at ${url}${cause?.code ? ` (${cause.code})` : ""}`,
        ExitCode.unreachable,
        {
          url,
        },
      );
    }
    throw error;
  }
}

interface InferAnswer {
  outputs?: { name: string; data: unknown[] }[];
}

interface CallFlags {
  model: bigint;
  channel: bigint;
  text: string;
  count: number;
  maxPrice?: string;
  receiptOut?: string;
}

export function registerCall(program: Command): void {
  withChainOptions(
    program
      .command("call")
      .description(
        "call a model on a runner, paying per call from a channel (x402 vouchers); checks every receipt",
      )
      .argument("<runnerUrl>", "the runner's base URL, e.g. http://127.0.0.1:8080")
      .requiredOption("--model <id>", "the model to call", parseId("--model"))
      .requiredOption("--channel <id>", "your channel to that runner", parseId("--channel"))
      .requiredOption("--text <text>", "the input text")
      .option(
        "--count <n>",
        "make this many paid calls",
        (v) => {
          const n = Number(v);
          if (!Number.isInteger(n) || n < 1 || n > 100_000)
            throw new CliError(`--count must be 1 to 100000, got "${v}"`, ExitCode.usage);
          return n;
        },
        1,
      )
      .option("--max-price <tUSD>", "refuse to pay more than this per call")
      .option(
        "--receipt-out <file>",
        "save the last receipt (with the runner's signature) for `openlora verify-receipt`",
      ),
  ).action(
    action(async (runnerUrl: string, options: CallFlags, command: Command) => {
      const base = baseUrl(runnerUrl);
      const { client, account } = await connect(command, { account: true });
      const maxPrice = options.maxPrice
        ? await tokenAmount(client, options.maxPrice, "--max-price")
        : undefined;
      const channel = await getChannel(client, options.channel);
      if (channel.state !== "open") {
        throw new CliError(
          `channel ${options.channel} is ${channel.state}: it can no longer pay`,
          ExitCode.rejected,
        );
      }
      const receipts: PaidReceipt[] = [];
      const pay = paidFetch(client, {
        channelId: options.channel,
        voucherSigner: account as Account,
        ...(maxPrice !== undefined ? { maxPricePerCall: maxPrice } : {}),
        onReceipt: (r) => receipts.push(r),
      });
      const url = `${base}/v2/models/${options.model}/infer`;
      const body = inferBody(options.text);
      let answer: InferAnswer = {};
      const started = performance.now();
      for (let i = 0; i < options.count; i++) {
        const response = await reach(base, () =>
          pay(url, { method: "POST", headers: { "content-type": "application/json" }, body }),
        );
        const text = await response.text();
        if (!response.ok) {
          let message = text;
          try {
            message = (JSON.parse(text) as { error?: string }).error ?? text;
          } catch {
            // not JSON: the raw text is the message
          }
          throw new CliError(`the runner answered ${response.status}: ${message}`, ExitCode.rejected, {
            status: response.status,
            url,
          });
        }
        answer = JSON.parse(text) as InferAnswer;
        if (options.count > 1 && (i + 1) % 100 === 0) progress(command, `${i + 1}/${options.count} calls`);
      }
      const seconds = (performance.now() - started) / 1000;
      const last = receipts.at(-1);
      if (!last) throw new CliError("the runner answered without a receipt", ExitCode.rejected);
      if (options.receiptOut) {
        writeFileSync(
          options.receiptOut,
          `${toJson({ url: last.url, runner: last.runner, receipt: last.receipt, receiptSignature: last.receiptSignature })}\n`,
        );
      }
      const label = answer.outputs?.find((o) => o.name === "label")?.data[0];
      const scores = answer.outputs?.find((o) => o.name === "scores")?.data;
      const paid = receipts.reduce((sum, r) => sum + r.price, 0n);
      const fmt = await amountFormatter(client);
      output(
        command,
        {
          model: options.model,
          channel: options.channel,
          calls: receipts.length,
          paid,
          label,
          scores,
          receipt: last.receipt,
          receiptSignature: last.receiptSignature,
          runner: last.runner,
          seconds,
          ...(options.receiptOut ? { receiptFile: options.receiptOut } : {}),
        },
        () => [
          `model ${options.model}: ${String(label)}${scores ? `  (scores ${scores.map((s) => Number(s).toFixed(3)).join(", ")})` : ""}`,
          `paid ${fmt(paid)} for ${receipts.length} call(s) on channel ${options.channel} (${seconds.toFixed(2)} s)`,
          `receipt: call ${last.receipt.callIndex}, request ${last.receipt.requestHash}, signed by runner ${last.runner}`,
          ...(options.receiptOut ? [`receipt saved to ${options.receiptOut}`] : []),
        ],
      );
    }),
  );
}

export function registerSettle(program: Command): void {
  program
    .command("settle")
    .description("ask a runner on this machine to settle the calls it has served now (POST /v2/settlement)")
    .argument("<runnerUrl>", "the runner's base URL, e.g. http://127.0.0.1:8080")
    .action(
      action(async (runnerUrl: string, _options: unknown, command: Command) => {
        const base = baseUrl(runnerUrl);
        const response = await reach(base, () => fetch(`${base}/v2/settlement`, { method: "POST" }));
        const text = await response.text();
        let json: {
          batches?: { sequence?: unknown; root?: unknown; txHash?: unknown; receipts?: unknown[] }[];
          error?: string;
        };
        try {
          json = JSON.parse(text);
        } catch {
          throw new CliError(
            `the runner answered ${response.status} with a body that is not JSON`,
            ExitCode.rejected,
          );
        }
        if (response.status === 404) {
          throw new CliError(
            `${base} does not offer settlement on demand (POST /v2/settlement)`,
            ExitCode.rejected,
          );
        }
        if (!response.ok) {
          throw new CliError(
            `the runner refused to settle (${response.status}): ${json.error ?? text}`,
            ExitCode.rejected,
          );
        }
        const batches = json.batches ?? [];
        output(command, { batches }, () =>
          batches.length === 0
            ? ["nothing to settle: every call served is already paid"]
            : batches.map(
                (b) =>
                  `settled batch ${String(b.sequence)}: ${b.receipts?.length ?? "?"} receipts, root ${String(b.root)} (${String(b.txHash)})`,
              ),
        );
      }),
    );
}
