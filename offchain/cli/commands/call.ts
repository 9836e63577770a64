/**
 * `openlora call`: paid calls to a model on a runner, paying per call with vouchers on a channel
 * (the SDK's paying fetch), checking each receipt; `openlora settle`: asks a runner on this machine
 * to settle what it has served now.
 */
import { writeFileSync } from "node:fs";
import type { Command } from "commander";
import type { Account } from "viem";
import type { OpenLoRAClient } from "../../../sdk/client";
import { channelLanes, getChannel, paidFetch } from "../../../sdk/consumer/channels";
import type { LaneCursor } from "../../../sdk/consumer/lanes";
import type { PaidReceipt, PaymentClientError } from "../../../sdk/consumer/payingFetch";
import { getModel } from "../../../sdk/integrator/models";
import { formatAmount, tokenInfo } from "../../../sdk/token";
import { CliError, ExitCode } from "../errors";
import {
  action,
  amountFormatter,
  asCliError,
  assertFileTarget,
  connect,
  flagsOf,
  output,
  parseId,
  progress,
  toJson,
  tokenAmount,
  withChainOptions,
} from "./chainOptions";
import { PaidCallLog } from "./paidCallLog";
import { reachRunner, withRunnerTimeout } from "./runnerHttp";

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
  out?: string;
  timeoutMs: number;
}

/** The answer's label and scores, when it is the JSON of an Open Inference Protocol answer. */
function labelAndScores(text: string): { label?: unknown; scores?: unknown[] } {
  try {
    const answer = JSON.parse(text) as InferAnswer;
    return {
      label: answer.outputs?.find((o) => o.name === "label")?.data[0],
      scores: answer.outputs?.find((o) => o.name === "scores")?.data,
    };
  } catch {
    return {};
  }
}

/**
 * One paid call as `--out` and `--receipt-out` keep it: the answer exactly as received, the
 * runner-signed receipt, what it cost and the voucher that paid for it, and the request, so that
 * `openlora verify-receipt` can check every field of it.
 */
function paidRecord(
  flags: CallFlags,
  call: number,
  body: string,
  answer: string,
  paid: PaidReceipt,
  voucher: LaneCursor,
): Record<string, unknown> {
  const { label, scores } = labelAndScores(answer);
  return {
    call,
    model: flags.model,
    channel: flags.channel,
    url: paid.url,
    runner: paid.runner,
    label,
    scores,
    amount: paid.price,
    voucher,
    receipt: paid.receipt,
    receiptSignature: paid.receiptSignature,
    request: body,
    answer,
  };
}

function answerLine(flags: CallFlags, record: Record<string, unknown>): string {
  const scores = record.scores as unknown[] | undefined;
  const counter = flags.count > 1 ? `${String(record.call)}/${flags.count} ` : "";
  return `${counter}model ${flags.model}: ${String(record.label)}${scores ? `  (scores ${scores.map((s) => Number(s).toFixed(3)).join(", ")})` : ""}`;
}

/** A word that a POSIX shell reads as itself. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}

/** The `openlora channel topup` command that pays for `calls` more calls at `price`. */
async function topupCommand(
  command: Command,
  client: OpenLoRAClient,
  channel: bigint,
  amount: bigint,
): Promise<string> {
  const { decimals } = await tokenInfo(client);
  const flags = flagsOf(command);
  const words = ["openlora", "channel", "topup", String(channel), "--amount", formatAmount(amount, decimals)];
  if (flags.rpc) words.push("--rpc", flags.rpc);
  if (flags.deployment) words.push("--deployment", flags.deployment);
  if (flags.devAccount !== undefined) words.push("--dev-account", String(flags.devAccount));
  return words.map(shellWord).join(" ");
}

/**
 * The error of a run stopped after `done` of its calls were paid: how many, what they cost, where
 * their answers are, and, when the channel ran dry, the top-up that pays for the calls left.
 */
async function stoppedAfter(
  error: unknown,
  run: {
    command: Command;
    client: OpenLoRAClient;
    flags: CallFlags;
    done: number;
    paid: bigint;
    price?: bigint;
    /** The answers paid for, when they are neither printed nor in --out (--json). */
    answers?: Record<string, unknown>[];
  },
): Promise<CliError> {
  const converted = asCliError(error);
  const cause =
    converted instanceof CliError
      ? converted
      : new CliError(`unexpected error: ${(error as Error)?.message ?? String(error)}`, ExitCode.failure);
  const { command, client, flags, done, paid } = run;
  const left = flags.count - done;
  const dry = (error as PaymentClientError).details?.reason === "insufficient_channel_balance";
  const kept =
    done === 0
      ? ""
      : flags.out
        ? `answers in ${flags.out}`
        : run.answers
          ? "answers in details"
          : "answers above";
  let amounts = "";
  let why = cause.message;
  const topup: { amount?: bigint; command?: string; line?: string } = {};
  try {
    const fmt = await amountFormatter(client);
    const limit = (error as PaymentClientError).details as { price?: bigint; maxPricePerCall?: bigint };
    if (typeof limit?.price === "bigint" && typeof limit.maxPricePerCall === "bigint")
      why = `the runner's price, ${fmt(limit.price)} per call, is above --max-price ${fmt(limit.maxPricePerCall)}`;
    const price = run.price ?? (dry ? (await getModel(client, flags.model)).pricePerCall : undefined);
    amounts = `${fmt(paid)}${done > 0 && price !== undefined ? ` at ${fmt(price)} per call` : ""}`;
    if (dry && price !== undefined) {
      topup.amount = price * BigInt(left);
      topup.command = await topupCommand(command, client, flags.channel, topup.amount);
      topup.line = `the channel's balance does not cover the ${left} call(s) left (${fmt(topup.amount)}); top it up with: ${topup.command}`;
    }
  } catch {
    // The chain did not answer: report what this run knows without it.
  }
  const said = [amounts, kept].filter(Boolean).join(", ");
  const message = `${done} of ${flags.count} paid${said ? ` (${said})` : ""}: ${why}`;
  return new CliError(topup.line ? `${message}\n${topup.line}` : message, cause.exitCode, {
    ...cause.details,
    paidCalls: done,
    count: flags.count,
    paid,
    ...(run.price !== undefined ? { pricePerCall: run.price } : {}),
    ...(topup.command ? { topupAmount: topup.amount, topupCommand: topup.command } : {}),
    ...(run.answers ? { answers: run.answers } : {}),
  });
}

export function registerCall(program: Command): void {
  withRunnerTimeout(
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
          "--out <file>",
          "append every paid answer to this file as it arrives, one JSON object per line (answer, receipt, amount)",
        )
        .option(
          "--receipt-out <file>",
          "save the last receipt (with the runner's signature) for `openlora verify-receipt`",
        ),
    ),
  ).action(
    action(async (runnerUrl: string, options: CallFlags, command: Command) => {
      const base = baseUrl(runnerUrl);
      assertFileTarget("--receipt-out", options.receiptOut);
      assertFileTarget("--out", options.out);
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
      const lanes = channelLanes(client, options.channel, account as Account);
      const arrived: PaidReceipt[] = [];
      const pay = paidFetch(client, {
        channelId: options.channel,
        lanes,
        ...(maxPrice !== undefined ? { maxPricePerCall: maxPrice } : {}),
        onReceipt: (r) => arrived.push(r),
      });
      const url = `${base}/v2/models/${options.model}/infer`;
      const body = inferBody(options.text);
      const json = Boolean(flagsOf(command).json);
      const log = options.out ? PaidCallLog.open(options.out) : null;
      const records: Record<string, unknown>[] = [];
      let paid = 0n;
      let done = 0;
      let last: PaidReceipt | undefined;
      const started = performance.now();
      try {
        for (let i = 0; i < options.count; i++) {
          const { response, text } = await reachRunner(base, options.timeoutMs, async (signal) => {
            const init = { method: "POST", headers: { "content-type": "application/json" }, body, signal };
            const answer = await pay(url, init);
            return { response: answer, text: await answer.text() };
          });
          if (!response.ok) throw refusal(response.status, text, url);
          const received = arrived.at(-1); // the receipt of this answer
          arrived.length = 0;
          if (!received) throw new CliError("the runner answered without a receipt", ExitCode.rejected);
          last = received;
          paid += received.price;
          const record = paidRecord(options, i + 1, body, text, received, lanes.cursor(options.model));
          if (log) log.append(record);
          else if (json) records.push(record);
          else console.log(answerLine(options, record));
          done++;
          if (options.receiptOut) writeFileSync(options.receiptOut, `${toJson(record)}\n`);
          if (options.count > 1 && (i + 1) % 100 === 0) progress(command, `${i + 1}/${options.count} calls`);
        }
      } catch (error) {
        throw await stoppedAfter(error, {
          command,
          client,
          flags: options,
          done,
          paid,
          ...(last ? { price: last.price } : {}),
          ...(json && !log ? { answers: records } : {}),
        });
      } finally {
        log?.close();
      }
      const seconds = (performance.now() - started) / 1000;
      const end = last as PaidReceipt;
      const { label, scores } = labelAndScores(String(records.at(-1)?.answer ?? ""));
      const fmt = await amountFormatter(client);
      output(
        command,
        {
          model: options.model,
          channel: options.channel,
          calls: options.count,
          paid,
          ...(log ? { out: options.out } : { answers: records, label, scores }),
          receipt: end.receipt,
          receiptSignature: end.receiptSignature,
          runner: end.runner,
          seconds,
          ...(options.receiptOut ? { receiptFile: options.receiptOut } : {}),
        },
        () => [
          `paid ${fmt(paid)} for ${options.count} call(s) on channel ${options.channel} (${seconds.toFixed(2)} s)`,
          `receipt: call ${end.receipt.callIndex}, request ${end.receipt.requestHash}, signed by runner ${end.runner}`,
          ...(log ? [`${options.count} answer(s) appended to ${options.out}`] : []),
          ...(options.receiptOut ? [`receipt saved to ${options.receiptOut}`] : []),
        ],
      );
    }),
  );
}

/** The runner's refusal of a paid call, with its own message when it sent one. */
function refusal(status: number, text: string, url: string): CliError {
  let message = text;
  try {
    message = (JSON.parse(text) as { error?: string }).error ?? text;
  } catch {
    // not JSON: the raw text is the message
  }
  return new CliError(`the runner answered ${status}: ${message}`, ExitCode.rejected, { status, url });
}

export function registerSettle(program: Command): void {
  withRunnerTimeout(
    program
      .command("settle")
      .description("ask a runner on this machine to settle the calls it has served now (POST /v2/settlement)")
      .argument("<runnerUrl>", "the runner's base URL, e.g. http://127.0.0.1:8080"),
  ).action(
    action(async (runnerUrl: string, options: { timeoutMs: number }, command: Command) => {
      const base = baseUrl(runnerUrl);
      const { response, text } = await reachRunner(base, options.timeoutMs, async (signal) => {
        const answer = await fetch(`${base}/v2/settlement`, { method: "POST", signal });
        return { response: answer, text: await answer.text() };
      });
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
