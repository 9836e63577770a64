// The paying fetch when the runner cannot be reached at all; offchain/runner/http.test.ts has it
// against a real runner whose answer is lost on the way (sent again with the same voucher).
import { createServer } from "node:net";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { encodeHeader, HEADERS, type PaymentTerms, SCHEME } from "../protocol/x402";
import { ChannelLanes } from "./lanes";
import { createPayingFetch, PaymentClientError } from "./payingFetch";

const CHANNELS = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const consumer = privateKeyToAccount(generatePrivateKey());
const terms: PaymentTerms = {
  scheme: SCHEME,
  network: "eip155:31337",
  amount: 1_000n,
  asset: "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",
  payTo: privateKeyToAccount(generatePrivateKey()).address,
  maxTimeoutSeconds: 60,
  extra: {
    paymentChannels: CHANNELS,
    settlement: "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0",
    modelId: 1n,
    adapterHash: `0x${"11".repeat(32)}`,
  },
};

/** A port where every connection is reset as soon as it is made: a runner that went away. */
async function resettingPort(): Promise<{ url: string; close(): void }> {
  const server = createServer((socket) => socket.resetAndDestroy());
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/v2/models/1/infer`, close: () => server.close() };
}

describe("paying fetch on a dropped connection", () => {
  it("sends the same voucher again a bounded number of times, then says the call may be charged", async () => {
    const runner = await resettingPort();
    const sent: string[] = [];
    let probed = false;
    // The unpaid probe learns the terms; every paid request then meets the resetting port.
    const fetchVia: typeof fetch = async (_input, init) => {
      const payment = new Headers(init?.headers).get(HEADERS.signature);
      if (!payment && !probed) {
        probed = true;
        const required = {
          x402Version: 2,
          error: "pay",
          resource: { url: "", description: "", mimeType: "" },
        };
        return new Response("{}", {
          status: 402,
          headers: { [HEADERS.required]: encodeHeader({ ...required, accepts: [terms] }) },
        });
      }
      if (payment) sent.push(payment);
      return fetch(runner.url, init);
    };
    const lanes = new ChannelLanes(consumer, 31337, CHANNELS, 4n);
    const pay = createPayingFetch({ lanes, fetch: fetchVia });
    try {
      const failure = await pay(runner.url, { method: "POST", body: "{}" }).catch((error) => error);
      expect(failure).toBeInstanceOf(PaymentClientError);
      expect(failure.message).toMatch(/failed 5 times before its answer; the call may be charged/);
      expect(sent).toHaveLength(5);
      expect(new Set(sent).size).toBe(1); // one voucher, sent five times
      expect(lanes.cursor(1n).cumulativeCalls).toBe(1n); // and no second one signed
    } finally {
      runner.close();
    }
  });
});
