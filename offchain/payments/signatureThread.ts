/**
 * The runner's signature thread: verifies vouchers (EIP-712 digest + secp256k1 recovery) and
 * signs receipts on a worker thread, so that the event loop, which parses HTTP, runs the
 * payment gate and journals receipts, keeps its core to itself. On a 2-core machine this is
 * what lets paid calls use the second core. Jobs queued in one turn of the event loop travel
 * to the worker as one message; answers come back in order, in parts (see the worker), so that
 * a batch's first calls go on while the worker is still on its last.
 *
 * If the worker dies, the vouchers it held fail with SignatureThreadError (the HTTP layer
 * answers 503, charging nothing), while the receipts it held are signed on this thread instead:
 * a receipt is journaled while it is signed, so its answer must still go out. A new worker is
 * started for the next calls (only when they come, so a worker that cannot start does not spin).
 */
import { Worker } from "node:worker_threads";
import type { Address, Hex } from "viem";
import { privateKeyToAddress } from "viem/accounts";
import type { Receipt, Voucher } from "../../sdk/protocol/typedData";
import { SignatureError } from "./nativeEip712";
import type { SignedReceipt } from "./receiptSigner";
import { createJobRunner, type Job, type JobResult, type ThreadConfig } from "./signatureThreadJobs";
import { VoucherVerifier } from "./voucherVerifier";

export class SignatureThreadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SignatureThreadError";
  }
}

type Answer = Extract<JobResult, { value: string }>;

interface Pending {
  job: Job;
  resolve(answer: Answer): void;
  reject(error: Error): void;
}

const WORKER_ENTRY = new URL("./signatureThread.worker.mjs", import.meta.url);

export class SignatureThread {
  readonly address: Address;
  private worker: Worker | null;
  private queued: Pending[] = [];
  /** Batches sent to the worker, by id, with how many of their jobs it has answered. */
  private readonly inFlight = new Map<number, { jobs: Pending[]; answered: number }>();
  private nextBatch = 0;
  private flushScheduled = false;
  private closed = false;
  /** Runs jobs on this thread, for the receipts a dead worker held; made when first needed. */
  private runHere: ((job: Job) => JobResult) | undefined;
  /** Digests for ERC-1271 consumers, on this thread: rare, and one hash. */
  private digester: VoucherVerifier | undefined;

  constructor(private readonly config: ThreadConfig) {
    this.address = privateKeyToAddress(config.privateKey);
    this.worker = this.spawn();
  }

  /** The address that signed `voucher`; rejects with SignatureError for a bad signature. */
  async recoverSigner(voucher: Voucher, signature: Hex): Promise<Address> {
    return (await this.submit({ op: "voucher", voucher, signature })).value as Address;
  }

  /** The voucher's EIP-712 digest (on this thread). */
  digest(voucher: Voucher): Uint8Array {
    this.digester ??= new VoucherVerifier(this.config.chainId, this.config.paymentChannels);
    return this.digester.digest(voucher);
  }

  /** The runner's signature of `receipt`, with the receipt's Merkle leaf. */
  async signReceipt(receipt: Receipt): Promise<SignedReceipt> {
    const { value, leaf } = await this.submit({ op: "receipt", receipt });
    return { signature: value as Hex, leaf: leaf as Hex };
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.worker?.terminate();
  }

  private submit(job: Job): Promise<Answer> {
    if (this.closed) return Promise.reject(new SignatureThreadError("the signature thread is closed"));
    return new Promise((resolve, reject) => {
      this.queued.push({ job, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    const batch = this.queued;
    this.queued = [];
    if (batch.length === 0) return;
    const id = this.nextBatch++;
    this.inFlight.set(id, { jobs: batch, answered: 0 });
    this.worker ??= this.spawn();
    this.worker.ref(); // keeps the process alive while answers are due
    this.worker.postMessage({ id, jobs: batch.map((p) => p.job) });
  }

  private spawn(): Worker {
    const worker = new Worker(WORKER_ENTRY, { workerData: this.config });
    worker.on("message", ({ id, from, results }: { id: number; from: number; results: JobResult[] }) => {
      const batch = this.inFlight.get(id);
      if (!batch) return;
      results.forEach((result, i) => {
        settle(batch.jobs[from + i] as Pending, result);
      });
      batch.answered = from + results.length;
      if (batch.answered === batch.jobs.length) {
        this.inFlight.delete(id);
        if (this.inFlight.size === 0) worker.unref();
      }
    });
    worker.on("error", (error) => this.failInFlight(`the signature thread failed: ${error.message}`));
    worker.on("exit", (code) => {
      if (this.worker === worker) this.worker = null;
      if (!this.closed) this.failInFlight(`the signature thread exited (code ${code})`);
    });
    worker.unref();
    return worker;
  }

  private failInFlight(message: string): void {
    for (const batch of this.inFlight.values())
      for (const pending of batch.jobs.slice(batch.answered)) {
        if (pending.job.op === "receipt") {
          this.runHere ??= createJobRunner(this.config);
          settle(pending, this.runHere(pending.job));
        } else pending.reject(new SignatureThreadError(message));
      }
    this.inFlight.clear();
  }
}

function settle(pending: Pending, result: JobResult | undefined): void {
  if (result && "value" in result) pending.resolve(result);
  else pending.reject(new SignatureError(result?.error ?? "no answer", result?.details ?? {}));
}
