import { spawn } from "node:child_process";
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Journal, readJournal } from "./journal";

const dir = mkdtempSync(path.join(os.tmpdir(), "openlora-journal-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const freshPath = () => path.join(dir, `journal-${n++}.log`);

describe("Journal", () => {
  it("round-trips records with bigints, in order, across reopen", async () => {
    const file = freshPath();
    const { journal, records } = await Journal.open(file);
    expect(records).toEqual([]);
    await journal.append({ type: "receipt", amount: 10n ** 30n, call: 1 });
    await journal.append({ type: "receipt", amount: 5n, call: 2 });
    await journal.close();
    const reopened = await Journal.open(file);
    expect(reopened.records).toEqual([
      { type: "receipt", amount: 10n ** 30n, call: 1 },
      { type: "receipt", amount: 5n, call: 2 },
    ]);
    await reopened.journal.close();
  });

  it("commits concurrent appends in groups, with fewer syncs than records", async () => {
    const { journal } = await Journal.open(freshPath());
    await Promise.all(Array.from({ length: 500 }, (_, i) => journal.append({ i })));
    expect(journal.stats.records).toBe(500);
    expect(journal.stats.syncs).toBeLessThan(500);
    expect(journal.stats.syncs).toBeGreaterThan(0);
    await journal.close();
  });

  it("cuts a torn or corrupt tail at the last intact record and keeps appending after it", async () => {
    const file = freshPath();
    const { journal } = await Journal.open(file);
    await journal.append({ i: 1 });
    await journal.append({ i: 2 });
    await journal.close();
    appendFileSync(file, '1234abcd {"i": 3, "torn'); // a crash mid-write
    const repaired = await Journal.open(file);
    expect(repaired.records).toEqual([{ i: 1 }, { i: 2 }]);
    await repaired.journal.append({ i: 3 });
    await repaired.journal.close();
    expect(readJournal(readFileSync(file)).records).toEqual([{ i: 1 }, { i: 2 }, { i: 3 }]);

    // A flipped byte inside an earlier record fails its checksum: reading stops there.
    const bytes = readFileSync(file);
    bytes[bytes.indexOf('"i":2') + 4] = "7".charCodeAt(0);
    expect(readJournal(bytes).records).toEqual([{ i: 1 }]);
  });

  it("keeps every acknowledged record when the writer is killed with SIGKILL", async () => {
    const file = freshPath();
    // A child appends as fast as it can and prints each acknowledged index; we kill it mid-stream.
    const script = `
      import { Journal } from ${JSON.stringify(path.resolve("offchain/runner/journal.ts"))};
      const { journal } = await Journal.open(${JSON.stringify(file)});
      for (let i = 0; ; i++) { await journal.append({ i }); process.stdout.write(i + "\\n"); }
    `;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let acked = -1;
    await new Promise<void>((resolve) => {
      child.stdout.on("data", (chunk: Buffer) => {
        const lines = chunk.toString().trim().split("\n");
        acked = Number(lines.at(-1));
        if (acked >= 200) {
          child.kill("SIGKILL");
          resolve();
        }
      });
    });
    await new Promise((resolve) => child.once("exit", resolve));
    const { journal, records } = await Journal.open(file);
    await journal.close();
    expect(records.length).toBeGreaterThanOrEqual(acked + 1);
    expect(records).toEqual(records.map((_, i) => ({ i })));
  });
});
