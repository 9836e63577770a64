// The data directory's lock: refused while held, by any path to the directory, and free again once
// released or its holder is killed. runner.anvil.test.ts runs two `openlora serve` on one directory.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, realpathSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DataDirLockedError, lockDataDir, SOCKET_FILE } from "./dataDirLock";

const tmp = mkdtempSync(path.join(os.tmpdir(), "openlora-lock-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("data directory lock", () => {
  it("refuses a second lock on a directory, by any path to it, naming the holder's pid", async () => {
    const dir = path.join(tmp, "data");
    const lock = await lockDataDir(dir);
    try {
      const refusal = await lockDataDir(path.join(dir, "..", "data")).catch((error) => error);
      expect(refusal).toBeInstanceOf(DataDirLockedError);
      expect(refusal).toMatchObject({ dataDir: realpathSync(dir), pid: process.pid });
      expect(refusal.message).toContain(
        `${realpathSync(dir)} is in use by another runner (pid ${process.pid})`,
      );
      // Another directory is free.
      await (await lockDataDir(path.join(tmp, "other"))).release();
    } finally {
      await lock.release();
    }
    await (await lockDataDir(dir)).release(); // released: taken again
  });

  it("with a socket file (where there is no abstract namespace), takes over one left by a killed holder", async () => {
    const dir = path.join(tmp, "file");
    const lock = await lockDataDir(dir, { abstract: false });
    const refusal = await lockDataDir(dir, { abstract: false }).catch((error) => error);
    expect(refusal).toMatchObject({ name: "DataDirLockedError", pid: process.pid });
    await lock.release();

    // A holder killed with SIGKILL leaves its socket file behind, with nobody listening on it.
    const socketFile = path.join(realpathSync(dir), SOCKET_FILE);
    const holder = spawn(process.execPath, [
      "-e",
      `require("node:net").createServer().listen(${JSON.stringify(socketFile)}, () => console.log("listening"))`,
    ]);
    await new Promise((resolve) => holder.stdout.once("data", resolve));
    holder.kill("SIGKILL");
    await new Promise((resolve) => holder.once("exit", resolve));
    expect(existsSync(socketFile)).toBe(true);
    const taken = await lockDataDir(dir, { abstract: false });
    await taken.release();
  });
});
