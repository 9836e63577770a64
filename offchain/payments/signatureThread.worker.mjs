// Entry of the runner's signature thread (signatureThread.ts): loads the TypeScript job runner
// through tsx's loader, as bin/openlora.mjs does for the CLI, and answers each batch in order.
import { parentPort, workerData } from "node:worker_threads";
import { register } from "tsx/esm/api";

register();
const { createJobRunner } = await import("./signatureThreadJobs.ts");
const run = createJobRunner(workerData);
parentPort.on("message", ({ id, jobs }) => {
  parentPort.postMessage({ id, results: jobs.map(run) });
});
