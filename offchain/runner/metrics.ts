/** The runner's Prometheus metrics, labelled by model where it matters. */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export class RunnerMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: "openlora_requests_total",
    help: "Inference requests by model and outcome (paid, redelivered, payment_required, refused, error)",
    labelNames: ["model", "outcome"],
    registers: [this.registry],
  });
  readonly latency = new Histogram({
    name: "openlora_request_duration_seconds",
    help: "Latency of paid inference requests, from arrival to answer",
    labelNames: ["model"],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  readonly batchSize = new Histogram({
    name: "openlora_batch_size",
    help: "Rows per executor run",
    buckets: [1, 2, 4, 8, 16, 32, 64],
    registers: [this.registry],
  });
  readonly cacheEvents = new Counter({
    name: "openlora_adapter_cache_events_total",
    help: "Adapter cache hits, loads, evictions and refusals",
    labelNames: ["event"],
    registers: [this.registry],
  });
  readonly vouchers = new Counter({
    name: "openlora_vouchers_total",
    help: "Vouchers by model and result (accepted, or the refusal reason)",
    labelNames: ["model", "result"],
    registers: [this.registry],
  });
  readonly revenue = new Counter({
    name: "openlora_voucher_revenue_total",
    help: "Amount accepted in vouchers, in payment-asset base units",
    labelNames: ["model"],
    registers: [this.registry],
  });
  readonly settled = new Counter({
    name: "openlora_settled_amount_total",
    help: "Amount settled on-chain, in payment-asset base units",
    labelNames: ["model"],
    registers: [this.registry],
  });
  readonly settledCalls = new Counter({
    name: "openlora_settled_calls_total",
    help: "Calls settled on-chain",
    labelNames: ["model"],
    registers: [this.registry],
  });
  readonly settlements = new Counter({
    name: "openlora_settlements_total",
    help: "Settlements the policy started, by reason (deadline, age, size)",
    labelNames: ["reason"],
    registers: [this.registry],
  });
  readonly lanesQuarantined = new Counter({
    name: "openlora_settlement_lanes_quarantined_total",
    help: "Lanes set aside because settlement refused their voucher, by the contract's error",
    labelNames: ["error"],
    registers: [this.registry],
  });
  readonly quarantinedLanes = new Gauge({
    name: "openlora_settlement_quarantined_lanes",
    help: "Lanes set aside until a newer voucher of theirs comes",
    registers: [this.registry],
  });
  readonly journalCompactions = new Counter({
    name: "openlora_journal_compactions_total",
    help: "Journal compactions by result (done, failed)",
    labelNames: ["result"],
    registers: [this.registry],
  });
  readonly journalBytes = new Gauge({
    name: "openlora_journal_bytes",
    help: "Size of the receipt journal after its last compaction",
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: "openlora_queue_depth",
    help: "Requests waiting for the executor",
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}
