/**
 * What `devnet` and `deploy` say while forge works: `forge script` compiles every contract first
 * on a fresh clone (1–2 minutes with the WebAssembly solc) and prints nothing meanwhile.
 */
import { existsSync } from "node:fs";
import path from "node:path";

const TICK_MS = 15_000;

/** The first line: whether forge must compile the contracts before it deploys them. */
export function deployingLine(root: string, what: string): string {
  const compiled = existsSync(path.join(root, "out", "Deploy.s.sol", "Deploy.json"));
  return compiled
    ? `${what}…`
    : `${what} (forge compiles every contract first on a fresh clone: 1–2 minutes)…`;
}

/** Says every 15 s that the work is still going, until it settles. */
export async function withTicker<T>(
  say: (line: string) => void,
  work: Promise<T>,
  tickMs = TICK_MS,
): Promise<T> {
  const started = performance.now();
  const ticker = setInterval(() => {
    say(`still working, ${Math.round((performance.now() - started) / 1000)} s so far…`);
  }, tickMs);
  try {
    return await work;
  } finally {
    clearInterval(ticker);
  }
}
