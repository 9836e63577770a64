// Entry of the runner's signature thread (signatureThread.ts): loads the TypeScript job runner
// through tsx's loader, as bin/openlora.mjs does for the CLI, and answers each batch in order:
// what is done goes back every ANSWER_EVERY_MS (and at the end), not all at the end. Waiting for
// whole batches made each call wait for the slowest of its batch; answering every job on its
// own saturated the event loop with messages.
import { parentPort, workerData } from "node:worker_threads";
import { register } from "tsx/esm/api";

/** A batch's answers go back in parts this far apart, so the first calls need not wait for the last. */
const ANSWER_EVERY_MS = 0.3;

register();
const { createJobRunner } = await import("./signatureThreadJobs.ts");
const run = createJobRunner(workerData);
parentPort.on("message", ({ id, jobs }) => {
  let from = 0;
  let results = [];
  let posted = performance.now();
  for (const job of jobs) {
    results.push(run(job));
    const now = performance.now();
    if (now - posted >= ANSWER_EVERY_MS || results.length + from === jobs.length) {
      parentPort.postMessage({ id, from, results });
      from += results.length;
      results = [];
      posted = now;
    }
  }
});
