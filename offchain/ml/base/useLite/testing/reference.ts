/** Runs the reference implementation (referenceWorker.mjs) on texts, in a worker thread. */
import { Worker } from "node:worker_threads";
import type { VocabEntry } from "../source";

export interface ReferenceResult {
  ids: number[][];
  embeddings?: number[][];
}

/** With `vocabulary`, only the reference tokenizer runs, over that vocabulary. */
export function runReference(
  texts: readonly string[],
  embed: boolean,
  vocabulary?: readonly VocabEntry[],
): Promise<ReferenceResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL("./referenceWorker.mjs", import.meta.url), {
      workerData: { texts, embed, vocabulary },
    });
    worker.once("message", (result: ReferenceResult) => {
      resolve(result);
      void worker.terminate();
    });
    worker.once("error", reject);
  });
}
