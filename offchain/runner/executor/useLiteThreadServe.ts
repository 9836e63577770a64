/**
 * The inference thread's side of useLiteThread.ts: holds a UseLiteExecutor (its session and arena)
 * and handles the event loop's messages one at a time, in the order they were posted, each after
 * the one before has finished: an adapter written to a slot is there for every run posted after
 * the write, and never changes under a run in progress.
 */
import type { MessagePort } from "node:worker_threads";
import { UseLiteExecutor, type UseLiteExecutorOptions } from "./useLiteExecutor";
import { type FromThread, packAnswers, type ToThread, toWire, unpackRows } from "./useLiteThreadMessages";

export async function serveUseLite(port: MessagePort, options: UseLiteExecutorOptions): Promise<void> {
  const post = (message: FromThread, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);
  let executor: UseLiteExecutor;
  try {
    executor = await UseLiteExecutor.create(options);
  } catch (error) {
    post({ op: "failed", error: toWire(error) });
    return; // no listener holds the thread open: it exits
  }
  /** Slots whose last write failed: their runs fail with its error rather than serve the adapter before. */
  const broken = new Map<number, Error>();
  const handle = async (message: ToThread) => {
    if (message.op === "close") {
      await executor.release();
      process.exit(0); // on a worker thread: ends the thread
    }
    if (message.op === "write") {
      try {
        executor.write(message.slot, message.adapter);
        broken.delete(message.slot);
      } catch (error) {
        broken.set(message.slot, error as Error);
      }
      return;
    }
    try {
      const rows = unpackRows(message.rows);
      for (const row of rows) {
        const error = broken.get(row.slot);
        if (error) throw error;
      }
      const answers = packAnswers(await executor.run(rows));
      post({ op: "answers", id: message.id, answers }, [answers.values.buffer]);
    } catch (error) {
      post({ op: "error", id: message.id, error: toWire(error) });
    }
  };
  let turn = Promise.resolve();
  port.on("message", (message: ToThread) => {
    turn = turn.then(() => handle(message));
  });
  post({ op: "ready", method: executor.method });
}
