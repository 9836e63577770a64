// Entry of the runner's inference thread (useLiteThread.ts): loads the TypeScript side through
// tsx's loader, as the signature thread does, and serves the event loop's messages.
import { parentPort, workerData } from "node:worker_threads";
import { register } from "tsx/esm/api";

register();
const { serveUseLite } = await import("./useLiteThreadServe.ts");
await serveUseLite(parentPort, workerData);
