/**
 * One runner per data directory. Two runners on one journal answer the same call numbers twice
 * and then fight over settlement, so the second one must not start.
 *
 * The lock is a Unix socket the runner listens on: the kernel closes it when the process dies,
 * SIGKILL included, so a crash leaves no stale lock to clear by hand, and a restart takes it at
 * once. On Linux the socket lives in the abstract namespace under a name derived from the
 * directory's real path, and taking it is atomic. Elsewhere it is a socket file in the directory
 * (in the temporary directory when that path is too long for a socket); a file nobody answers on
 * was left by a dead runner and is replaced. Two runners that find the same dead file at the same
 * moment could both replace it: Linux has no such window. Whoever holds the lock answers a
 * connection with its pid, which the refusal names.
 */
import { createHash } from "node:crypto";
import { mkdirSync, realpathSync, unlinkSync } from "node:fs";
import { connect, createServer, type Server } from "node:net";
import os from "node:os";
import path from "node:path";

export class DataDirLockedError extends Error {
  constructor(
    readonly dataDir: string,
    readonly pid: number | null,
  ) {
    super(
      `the data directory ${dataDir} is in use by another runner${pid === null ? "" : ` (pid ${pid})`}: ` +
        "stop it first, or give this one another data directory",
    );
    this.name = "DataDirLockedError";
  }
}

export interface DataDirLock {
  readonly dataDir: string;
  release(): Promise<void>;
}

export const SOCKET_FILE = "runner.lock";
/** Socket paths are limited to 104 bytes (macOS) or 108 (Linux), the terminating NUL included. */
const MAX_SOCKET_PATH = 100;

/** Where the lock of a directory (its real path) listens. */
function lockAddress(realDir: string, abstract: boolean): string {
  const digest = createHash("sha256").update(realDir).digest("hex").slice(0, 40);
  if (abstract) return `\0openlora-runner-${digest}`;
  const file = path.join(realDir, SOCKET_FILE);
  return file.length <= MAX_SOCKET_PATH ? file : path.join(os.tmpdir(), `openlora-runner-${digest}.lock`);
}

/**
 * Takes the data directory's lock (creating the directory), or throws DataDirLockedError.
 * `abstract` (Linux's abstract socket namespace) is for tests of the socket file used elsewhere.
 */
export async function lockDataDir(
  dataDir: string,
  { abstract = process.platform === "linux" }: { abstract?: boolean } = {},
): Promise<DataDirLock> {
  mkdirSync(dataDir, { recursive: true });
  const realDir = realpathSync(dataDir);
  const address = lockAddress(realDir, abstract);
  let server: Server;
  try {
    server = await listenOn(address);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EADDRINUSE") throw error;
    const holder = await askHolder(address);
    if (holder.answered || address.startsWith("\0")) throw new DataDirLockedError(realDir, holder.pid);
    // A socket file nobody listens on: its runner died. Take its place.
    unlinkSync(address);
    server = await listenOn(address);
  }
  server.unref(); // the lock must not keep a stopped runner's process alive
  return {
    dataDir: realDir,
    release: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function listenOn(address: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((socket) => {
      socket.on("error", () => {}); // an asker that hangs up early is no concern of the runner's
      socket.end(JSON.stringify({ pid: process.pid }));
    });
    server.once("error", reject);
    server.listen(address, () => {
      server.off("error", reject);
      resolve(server);
    });
  });
}

/** Asks the lock's holder for its pid; `answered` is false when nobody listens there. */
function askHolder(address: string): Promise<{ answered: boolean; pid: number | null }> {
  return new Promise((resolve) => {
    let text = "";
    let answered = false;
    const socket = connect(address);
    socket.setTimeout(2_000, () => socket.destroy());
    socket.on("connect", () => {
      answered = true;
    });
    socket.on("data", (chunk) => {
      text += chunk.toString();
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      let pid: number | null = null;
      try {
        const parsed = JSON.parse(text) as { pid?: unknown };
        if (Number.isSafeInteger(parsed.pid)) pid = parsed.pid as number;
      } catch {}
      resolve({ answered, pid });
    });
  });
}
