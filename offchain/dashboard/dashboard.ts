/**
 * The runner's live dashboard (docs/dashboard.md): one hub that aggregates the runner's paid
 * calls and the chain's state, and the routes that serve the page and its event stream.
 * startRunner creates one, passes its routes and paid-call hook to the HTTP server, starts it
 * once serving, and stops it before closing the server (its event streams would hold it open).
 */
import type { Hex } from "viem";
import type { ServedModel } from "../runner/catalog";
import type { PaidAnswer } from "../runner/paidCall";
import type { ReceiptProof } from "../runner/settlement/settler";
import { DashboardHub, type DashboardOptions } from "./hub";
import { dashboardRoutes, type ExtraRoutes } from "./routes";

export interface Dashboard {
  hub: DashboardHub;
  routes: ExtraRoutes;
  onPaidCall(model: ServedModel, answer: PaidAnswer, latencyMs: number): void;
  start(): void;
  stop(): void;
}

export function createDashboard(
  options: DashboardOptions & { proof(requestHash: Hex): Promise<ReceiptProof | null> },
): Dashboard {
  const hub = new DashboardHub(options);
  return {
    hub,
    routes: dashboardRoutes(hub, { proof: (hash) => options.proof(hash) }),
    onPaidCall: (model, answer, latencyMs) => hub.onPaidCall(model, answer, latencyMs),
    start: () => hub.start(),
    stop: () => hub.stop(),
  };
}
