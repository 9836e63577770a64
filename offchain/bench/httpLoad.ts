// The load process of bench:http: virtual clients, one payment-channel lane each, send calls
// back to back for a fixed time over keep-alive connections. In paid mode every call carries a
// freshly signed voucher (native signing, so the load process is not what limits the runner).
// Prints one JSON object: calls, errors, seconds and the latency samples' percentiles.
import { Agent, request } from "node:http";
import type { Address, Hex } from "viem";
import { EMPTY_TRANSCRIPT } from "../../sdk/protocol/typedData";
import { encodeHeader, HEADERS, type PaymentTerms, paymentPayload } from "../../sdk/protocol/x402";
import { signDigest } from "../payments/nativeEip712";
import { extendTranscriptNative, requestHashNative } from "../payments/nativeHashes";
import { VoucherVerifier } from "../payments/voucherVerifier";

export interface LoadSpec {
  url: string;
  paid: boolean;
  durationMs: number;
  chainId: number;
  terms: PaymentTerms | null;
  clients: { channelId: string; privateKey: Hex }[];
}

const spec = JSON.parse(process.argv[2] as string, (_k, v) =>
  typeof v === "string" && /^\d+n$/.test(v) ? BigInt(v.slice(0, -1)) : v,
) as LoadSpec;
const agent = new Agent({ keepAlive: true, maxSockets: spec.clients.length });
const target = new URL(spec.url);

function post(body: string, headers: Record<string, string>): Promise<number> {
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

async function client(
  index: number,
  channelId: bigint,
  privateKey: Hex,
  deadline: number,
  latencies: number[],
) {
  const terms = spec.terms;
  const verifier = terms ? new VoucherVerifier(spec.chainId, terms.extra.paymentChannels as Address) : null;
  let amount = 0n;
  let transcript = EMPTY_TRANSCRIPT;
  let errors = 0;
  for (let call = 1n; Date.now() < deadline; call++) {
    const body = JSON.stringify({
      inputs: [
        {
          name: "text",
          datatype: "BYTES",
          shape: [1],
          data: [`client ${index} says hello, message ${call}`],
        },
      ],
    });
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (spec.paid && terms && verifier) {
      const hash = requestHashNative(channelId, terms.extra.modelId, call, body);
      transcript = extendTranscriptNative(transcript, hash);
      amount += terms.amount;
      const voucher = {
        channelId,
        modelId: terms.extra.modelId,
        cumulativeAmount: amount,
        cumulativeCalls: call,
        transcriptHash: transcript,
      };
      const signature = signDigest(verifier.digest(voucher), privateKey);
      headers[HEADERS.signature] = encodeHeader(paymentPayload(terms, voucher, hash, signature));
    }
    const started = performance.now();
    const status = await post(body, headers);
    latencies.push(performance.now() - started);
    if (status !== 200) errors++;
  }
  return errors;
}

const latencies: number[] = [];
const started = Date.now();
const deadline = started + spec.durationMs;
const errors = await Promise.all(
  spec.clients.map((c, i) => client(i, BigInt(c.channelId), c.privateKey, deadline, latencies)),
);
const seconds = (Date.now() - started) / 1000;
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
  }),
);
