// The load process of bench:http: virtual clients, one payment-channel lane each, send calls
// back to back for a fixed time, each over its own keep-alive connection (httpConnection.ts),
// or, with a rate, on a fixed schedule (see LoadSpec.rate). In paid mode every call carries
// its own real voucher, signed with the client's key (native signing). By default each client
// signs its vouchers before the clock starts, as a consumer would on its own machine, so that
// the two cores measure the runner rather than the load generator's signing; `signInline`
// signs each voucher just before its call instead. Prints one JSON object: calls, errors,
// seconds, the latency percentiles and this process's CPU use while the clock ran.
import type { Address, Hex } from "viem";
import { EMPTY_TRANSCRIPT } from "../../sdk/protocol/typedData";
import { encodeHeader, HEADERS, type PaymentTerms, paymentPayload } from "../../sdk/protocol/x402";
import { signDigest } from "../payments/nativeEip712";
import { extendTranscriptNative, requestHashNative } from "../payments/nativeHashes";
import { VoucherVerifier } from "../payments/voucherVerifier";
import { HttpConnection, postRequest } from "./httpConnection";
import { LOAD_STARTED, WARM_UP_MS } from "./httpLoadProtocol";

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

/** A whole HTTP request, ready to write. */
type Call = Buffer;

const spec = JSON.parse(process.argv[2] as string, (_k, v) =>
  typeof v === "string" && /^\d+n$/.test(v) ? BigInt(v.slice(0, -1)) : v,
) as LoadSpec;
const target = new URL(spec.url);

/** One client's calls in order: each voucher pays for its call and extends the transcript. */
class CallSequence {
  private readonly verifier: VoucherVerifier | null;
  private amount = 0n;
  private transcript: Hex = EMPTY_TRANSCRIPT;
  private next = 1n;

  /** This client's keep-alive connection: its calls go out one after another. */
  readonly connection = new HttpConnection(target);

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
    return postRequest(target, headers, body);
  }
}

/** The calls that count: those started (or, on a schedule, due) after the warm-up. */
class Measurement {
  readonly latencies: number[] = [];
  errors = 0;

  constructor(readonly from: number) {}

  record(since: number, status: number): void {
    if (since < this.from) return;
    this.latencies.push(performance.now() - since);
    if (status !== 200) this.errors++;
  }
}

async function client(sequence: CallSequence, ready: Call[], deadline: number, measured: Measurement) {
  for (let i = 0; Date.now() < deadline; i++) {
    const call = ready[i] ?? sequence.take();
    const started = performance.now();
    measured.record(started, await sequence.connection.send(call));
  }
}

/** Offers `rate` calls per second until the deadline, then waits for every offered call. */
async function onSchedule(
  rate: number,
  sequences: CallSequence[],
  ready: Call[][],
  deadline: number,
  measured: Measurement,
) {
  const free = sequences.map((sequence, lane) => ({ sequence, ready: ready[lane] as Call[], used: 0 }));
  const due: number[] = []; // when each offered call that has no lane yet was due
  const inFlight = new Set<Promise<void>>();
  const launch = (lane: (typeof free)[number], dueAt: number) => {
    const call = lane.ready[lane.used++] ?? lane.sequence.take();
    const done = lane.sequence.connection.send(call).then((status) => {
      measured.record(dueAt, status);
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
}

const sequences = spec.clients.map(
  (c, i) => new CallSequence(i, BigInt(c.channelId), c.privateKey, spec.terms),
);

// One call per lane before the clock starts: the runner reads each new channel and lane from
// the chain on its first call, which is start-up work, not the steady state being measured.
const warmUp = await Promise.all(sequences.map((s) => s.connection.send(s.take())));
if (warmUp.some((status) => status !== 200)) throw new Error(`warm-up calls answered ${warmUp.join(", ")}`);
const ready = sequences.map((s) =>
  spec.signInline ? [] : Array.from({ length: spec.presigned }, () => s.take()),
);
// Then WARM_UP_MS of load whose calls do not count (compiled code and caches settle meanwhile);
// the clock, and the CPU accounts of both processes, start when it ends.
const measured = new Measurement(performance.now() + WARM_UP_MS);
let cpuAtStart = process.cpuUsage();
let started = Date.now() + WARM_UP_MS;
setTimeout(() => {
  process.stdout.write(`${LOAD_STARTED}\n`);
  cpuAtStart = process.cpuUsage();
  started = Date.now();
}, WARM_UP_MS);
const deadline = Date.now() + WARM_UP_MS + spec.durationMs;
if (spec.rate) await onSchedule(spec.rate, sequences, ready, deadline, measured);
else await Promise.all(sequences.map((s, i) => client(s, ready[i] as Call[], deadline, measured)));
const seconds = (Date.now() - started) / 1000;
const cpu = process.cpuUsage(cpuAtStart);
const latencies = measured.latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
for (const sequence of sequences) sequence.connection.close();
console.log(
  JSON.stringify({
    calls: latencies.length,
    errors: measured.errors,
    seconds,
    p50: pct(0.5),
    p99: pct(0.99),
    cpuPercent: (cpu.user + cpu.system) / 1e4 / seconds,
  }),
);
