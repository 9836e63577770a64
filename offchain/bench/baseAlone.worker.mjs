// Entry of the benchmarks' base-alone thread (baseAlone.ts): loads the TypeScript side through
// tsx's loader, as the runner's threads do, says it is ready, then answers each batch of rows in
// turn, and closes when asked.
import { parentPort, workerData } from "node:worker_threads";
import { register } from "tsx/esm/api";

register();
const { baseAloneRun } = await import("./baseAlone.ts");
const { useLiteBase } = await import("../ml/base/useLite/useLiteBase.ts");
const { createSession } = await import("../ml/onnx/session.ts");
const session = await createSession(useLiteBase().onnx, workerData.threads);
let turn = Promise.resolve();
parentPort.on("message", ({ id, rows, close }) => {
  turn = turn.then(async () => {
    if (close) {
      await session.release();
      process.exit(0); // on a worker thread: ends the thread
    }
    const answers = await baseAloneRun(session, rows);
    parentPort.postMessage(
      { id, answers },
      answers.map((answer) => answer.buffer),
    );
  });
});
parentPort.postMessage({ ready: true });
