/**
 * The dashboard's HTTP routes on the runner's server (RunnerEvents.extraRoutes):
 *   GET /dashboard                       the page (public/index.html, app.js, style.css), the
 *                                        chain's state written into it for the first paint
 *   GET /dashboard/events                server-sent events: `snapshot` (the whole state, on
 *                                        every change) and `calls` (the paid calls since the last push)
 *   GET /dashboard/state                 the same snapshot once, as JSON
 *   GET /dashboard/verify/{requestHash}  a receipt's Merkle proof and Settlement.verifyReceipt's answer
 */
import { readFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Hex } from "viem";
import type { ReceiptProof } from "../runner/settlement/settler";
import { type DashboardHub, toJson } from "./hub";

const PUBLIC = fileURLToPath(new URL("./public/", import.meta.url));
const ASSETS: Record<string, { file: string; type: string }> = {
  "/dashboard/app.js": { file: "app.js", type: "text/javascript; charset=utf-8" },
  "/dashboard/style.css": { file: "style.css", type: "text/css; charset=utf-8" },
};
const KEEP_ALIVE_MS = 15_000;
/** How long the page waits for the hub's first read of the chain (right after the runner starts). */
const FIRST_PAINT_WAIT_MS = 5_000;
/** Where index.html takes the state its first paint renders. */
const STATE_SLOT = '<script id="state" type="application/json">null</script>';

/** index.html has lost the slot the state is written into. */
export class DashboardPageError extends Error {
  constructor(readonly details: { file: string; slot: string }) {
    super("the dashboard page has no slot for its first state");
    this.name = "DashboardPageError";
  }
}

/**
 * The page with the hub's snapshot in it: the page renders it before its first frame, so a page
 * opened while history exists never shows empty counters while its event stream connects.
 */
async function page(hub: DashboardHub): Promise<string> {
  const file = path.join(PUBLIC, "index.html");
  const [html, state] = await Promise.all([readFile(file, "utf8"), hub.state(FIRST_PAINT_WAIT_MS)]);
  if (!html.includes(STATE_SLOT)) throw new DashboardPageError({ file: "index.html", slot: STATE_SLOT });
  // JSON has "<" only inside strings, where \u003c reads the same and cannot close the script.
  const slot = STATE_SLOT.replace("null", state.replaceAll("<", "\\u003c"));
  return html.replace(STATE_SLOT, () => slot);
}

export type ExtraRoutes = (req: IncomingMessage, res: ServerResponse, path: string) => Promise<boolean>;

function send(res: ServerResponse, status: number, type: string, body: string | Buffer) {
  res.writeHead(status, {
    "content-type": type,
    "cache-control": "no-store",
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
}

/** Server-sent events: one stream per page, closed when the page goes or the runner stops. */
function streamEvents(hub: DashboardHub, req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-store",
    connection: "keep-alive",
    "x-accel-buffering": "no",
  });
  res.write("retry: 2000\n\n");
  const unsubscribe = hub.subscribe((event, json) => {
    res.write(`event: ${event}\ndata: ${json}\n\n`);
  });
  const keepAlive = setInterval(() => res.write(": keep-alive\n\n"), KEEP_ALIVE_MS);
  keepAlive.unref();
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    clearInterval(keepAlive);
    unsubscribe();
    removeStopHook();
    res.end();
  };
  const removeStopHook = hub.onStop(close);
  req.on("close", close);
}

export interface DashboardRouteOptions {
  /** The receipt proofs of the runner's settled batches (Settler.proof). */
  proof(requestHash: Hex): Promise<ReceiptProof | null>;
}

export function dashboardRoutes(hub: DashboardHub, options: DashboardRouteOptions): ExtraRoutes {
  return async (req, res, route) => {
    if (req.method !== "GET" || !(route === "/dashboard" || route.startsWith("/dashboard/"))) return false;
    if (route === "/dashboard") {
      send(res, 200, "text/html; charset=utf-8", await page(hub));
      return true;
    }
    const asset = ASSETS[route];
    if (asset) {
      send(res, 200, asset.type, await readFile(path.join(PUBLIC, asset.file)));
      return true;
    }
    if (route === "/dashboard/events") {
      streamEvents(hub, req, res);
      return true;
    }
    if (route === "/dashboard/state") {
      send(res, 200, "application/json", await hub.state());
      return true;
    }
    const verify = /^\/dashboard\/verify\/(0x[0-9a-fA-F]{64})$/.exec(route);
    if (verify) {
      const requestHash = verify[1] as Hex;
      const proof = await options.proof(requestHash);
      if (!proof) {
        send(
          res,
          404,
          "application/json",
          toJson({ requestHash, error: "no settled batch of this runner holds this receipt (yet)" }),
        );
        return true;
      }
      const onChain = await hub.verify(proof);
      send(res, 200, "application/json", toJson({ requestHash, proof, onChain }));
      return true;
    }
    return false;
  };
}
