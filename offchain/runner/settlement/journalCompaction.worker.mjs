// Entry of a journal compaction's thread (journalCompaction.ts): loads the TypeScript through
// tsx's loader, as signatureThread.worker.mjs does, reads and compacts the journal prefix it is
// given, and hands back the compacted records' bytes.
import { parentPort, workerData } from "node:worker_threads";
import { register } from "tsx/esm/api";

register();
const { compactPrefix } = await import("./journalCompaction.ts");
const compacted = compactPrefix(workerData.prefix, workerData.keepReceipts);
// A buffer of its own (small Buffers share a pool), handed over rather than copied.
const head = new Uint8Array(compacted.length);
head.set(compacted);
parentPort.postMessage(head, [head.buffer]);
