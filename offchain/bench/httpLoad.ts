// The load process of bench:http: virtual clients, one payment-channel lane each, send calls
// back to back for a fixed time over keep-alive connections (or, with a rate, on a fixed
// schedule: see LoadSpec.rate). In paid mode every call carries
// its own real voucher, signed with the client's key (native signing). By default each client
// signs its vouchers before the clock starts, as a consumer would on its own machine, so that
// the two cores measure the runner rather than the load generator's signing; `signInline`
// signs each voucher just before its call instead. Prints one JSON object: calls, errors,
// seconds, the latency percentiles and this process's CPU use while the clock ran.
import { Agent, request } from "node:http";
import type { Address, Hex } from "viem";
import { EMPTY_TRANSCRIPT } from "../../sdk/protocol/typedData";
import { encodeHeader, HEADERS, type PaymentTerms, paymentPayload } from "../../sdk/protocol/x402";
import { signDigest } from "../payments/nativeEip712";
import { extendTranscriptNative, requestHashNative } from "../payments/nativeHashes";
import { VoucherVerifier } from "../payments/voucherVerifier";
import { LOAD_STARTED } from "./httpLoadProtocol";

export interface LoadSpec {
  url: string;
  paid: boolean;
  durationMs: number;
  chainId: number;
  terms: PaymentTerms | null;
  clients: { channelId: string; privateKey: Hex }[];
  /** Calls signed ahead per client (the rest are signed inline). */
  presigned: number;
  signInline: boolean;
  /**
   * Calls per second to offer, on a fixed schedule (open loop); null: each client calls back to
   * back (closed loop). On a schedule, a call goes out on the first free client's lane (a lane's
   * vouchers are sequential) and its latency counts from when it was due, so time spent waiting
   * for a free lane is counted too rather than hidden (coordinated omission).
   */
  rate: number | null;
}

interface Call {
  body: string;
  headers: Record<string, string>;
}

const spec = JSON.parse(process.argv[2] as string, (_k, v) =>
  typeof v === "string" && /^\d+n$/.test(v) ? BigInt(v.slice(0, -1)) : v,
) as LoadSpec;
const agent = new Agent({ keepAlive: true, maxSockets: spec.clients.length });
const target = new URL(spec.url);

function post({ body, headers }: Call): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: "POST",
        agent,
        headers: { ...headers, "content-length": Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** One client's calls in order: each voucher pays for its call and extends the transcript. */
class CallSequence {
  private readonly verifier: VoucherVerifier | null;
  private amount = 0n;
  private transcript: Hex = EMPTY_TRANSCRIPT;
  private next = 1n;

  constructor(
    private readonly index: number,
    private readonly channelId: bigint,
    private readonly privateKey: Hex,
    private readonly terms: PaymentTerms | null,
  ) {
    this.verifier = terms ? new VoucherVerifier(spec.chainId, terms.extra.paymentChannels as Address) : null;
  }

  take(): Call {
    const call = this.next++;
    const body = JSON.stringify({
      inputs: [
        {
          name: "text",
          datatype: "BYTES",
          shape: [1],
          data: [`client ${this.index} says hello, message ${call}`],
        },
      ],
    });
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (spec.paid && this.terms && this.verifier) {
      const modelId = this.terms.extra.modelId;
      const hash = requestHashNative(this.channelId, modelId, call, body);
      this.transcript = extendTranscriptNative(this.transcript, hash);
      this.amount += this.terms.amount;
      const voucher = {
        channelId: this.channelId,
        modelId,
        cumulativeAmount: this.amount,
        cumulativeCalls: call,
        transcriptHash: this.transcript,
      };
      const signature = signDigest(this.verifier.digest(voucher), this.privateKey);
      headers[HEADERS.signature] = encodeHeader(paymentPayload(this.terms, voucher, hash, signature));
    }
    return { body, headers };
  }
}

async function client(sequence: CallSequence, ready: Call[], deadline: number, latencies: number[]) {
  let errors = 0;
  for (let i = 0; Date.now() < deadline; i++) {
    const call = ready[i] ?? sequence.take();
    const started = performance.now();
    const status = await post(call);
    latencies.push(performance.now() - started);
    if (status !== 200) errors++;
  }
  return errors;
}

/** Offers `rate` calls per second until the deadline, then waits for every offered call. */
async function onSchedule(
  rate: number,
  sequences: CallSequence[],
  ready: Call[][],
  deadline: number,
  latencies: number[],
) {
  let errors = 0;
  const free = sequences.map((sequence, lane) => ({ sequence, ready: ready[lane] as Call[], used: 0 }));
  const due: number[] = []; // when each offered call that has no lane yet was due
  const inFlight = new Set<Promise<void>>();
  const launch = (lane: (typeof free)[number], dueAt: number) => {
    const call = lane.ready[lane.used++] ?? lane.sequence.take();
    const done = post(call).then((status) => {
      latencies.push(performance.now() - dueAt);
      if (status !== 200) errors++;
      inFlight.delete(done);
      free.push(lane);
      dispatch();
    });
    inFlight.add(done);
  };
  const dispatch = () => {
    while (due.length > 0 && free.length > 0)
      launch(free.shift() as (typeof free)[number], due.shift() as number);
  };
  const start = performance.now();
  let offered = 0;
  while (Date.now() < deadline) {
    const now = performance.now();
    for (; start + (offered * 1000) / rate <= now; offered++) due.push(start + (offered * 1000) / rate);
    dispatch();
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  while (due.length > 0 || inFlight.size > 0) await Promise.race(inFlight);
  return errors;
}

const sequences = spec.clients.map(
  (c, i) => new CallSequence(i, BigInt(c.channelId), c.privateKey, spec.terms),
);
const ready = sequences.map((s) =>
  spec.signInline ? [] : Array.from({ length: spec.presigned }, () => s.take()),
);
const latencies: number[] = [];
process.stdout.write(`${LOAD_STARTED}\n`);
const cpuAtStart = process.cpuUsage();
const started = Date.now();
const deadline = started + spec.durationMs;
const errors = spec.rate
  ? [await onSchedule(spec.rate, sequences, ready, deadline, latencies)]
  : await Promise.all(sequences.map((s, i) => client(s, ready[i] as Call[], deadline, latencies)));
const seconds = (Date.now() - started) / 1000;
const cpu = process.cpuUsage(cpuAtStart);
latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
agent.destroy();
console.log(
  JSON.stringify({
    calls: latencies.length,
    errors: errors.reduce((a, b) => a + b, 0),
    seconds,
    p50: pct(0.5),
    p99: pct(0.99),
    cpuPercent: (cpu.user + cpu.system) / 1e4 / seconds,
  }),
);
