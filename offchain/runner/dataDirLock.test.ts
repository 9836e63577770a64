// The data directory's lock in one process; runner.anvil.test.ts runs two `openlora serve` on
// one directory, and restarts one after a SIGKILL.
import { mkdtempSync, realpathSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DataDirLockedError, lockDataDir } from "./dataDirLock";

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
});
