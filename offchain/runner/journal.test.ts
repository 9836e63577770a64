import { spawn } from "node:child_process";
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  encodeRecords,
  Journal,
  type JournalRecord,
  readJournal,
  readJournalPrefix,
  reviveBigints,
} from "./journal";
import { mountSmallFilesystem } from "./testing/smallFilesystem";

const dir = mkdtempSync(path.join(os.tmpdir(), "openlora-journal-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const freshPath = () => path.join(dir, `journal-${n++}.log`);
/** A rewrite that keeps `keep(records)` of the journal's prefix, computed on this thread. */
const keeping =
  (keep: (records: JournalRecord[]) => JournalRecord[]) =>
  async (prefix: Parameters<typeof readJournalPrefix>[0]) =>
    encodeRecords(keep(readJournalPrefix(prefix)));

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

  it("revives bigints nested in arrays and objects, and leaves a parsed __proto__ key a plain field", () => {
    const record = {
      type: "batch",
      calls: [
        { index: 0n, amounts: [1n, 10n ** 40n] },
        { index: 1n, amounts: [] },
      ],
      lane: { channelId: 7n, signer: "0xab", nested: { deep: [[2n]] }, nothing: null },
      count: 3,
    };
    expect(readJournal(encodeRecords([record])).records).toEqual([record]);

    const parsed = reviveBigints(JSON.parse('{"__proto__": {"x": {"$bigint": "5"}}}')) as object;
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(parsed, "__proto__")?.value).toEqual({ x: 5n });
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

  it("rewrites itself while appends go on, keeping every record acknowledged meanwhile", async () => {
    const file = freshPath();
    const { journal } = await Journal.open(file);
    for (let i = 0; i < 5_000; i++) void journal.append({ i });
    await journal.append({ i: 5_000 });
    // Appends keep coming while the rewrite reads the journal back and swaps files.
    let next = 5_001;
    let writing = true;
    const appender = (async () => {
      while (writing) await journal.append({ i: next++ });
    })();
    const rewritten = await journal.rewrite(
      keeping((records) => records.filter((r) => (r.i as number) % 2 === 0)),
    );
    writing = false;
    await appender;
    await journal.append({ i: next });
    await journal.close();
    expect(rewritten).toBe(true);
    expect(existsSync(`${file}.rewrite`)).toBe(false);

    const { records } = readJournal(readFileSync(file));
    const seen = records.map((r) => r.i as number);
    // The records it read back are halved; the ones acknowledged after it read, all kept, in order.
    const firstKeptWhole = seen.findIndex((i, k) => k > 0 && i % 2 === 1);
    expect(firstKeptWhole).toBeGreaterThan(2_500);
    expect(seen.slice(0, firstKeptWhole).every((i) => i % 2 === 0)).toBe(true);
    const tail = seen.slice(firstKeptWhole - 1);
    expect(tail).toEqual(tail.map((_, k) => (tail[0] as number) + k));
    expect(seen.at(-1)).toBe(next);
    const reopened = await Journal.open(file);
    expect(reopened.records).toEqual(records);
    await reopened.journal.close();
  });

  it("stays as it was when a rewrite fails, and goes on appending", async () => {
    const file = freshPath();
    const { journal } = await Journal.open(file);
    await journal.append({ i: 1 });
    await expect(
      journal.rewrite(
        keeping(() => {
          throw new Error("no");
        }),
      ),
    ).rejects.toThrow("no");
    await journal.append({ i: 2 });
    await journal.close();
    expect(readJournal(readFileSync(file)).records).toEqual([{ i: 1 }, { i: 2 }]);
    expect(existsSync(`${file}.rewrite`)).toBe(false);
  });

  it("closes after a rewrite under way and refuses the one queued behind it, as the settler queues one at shutdown", async () => {
    const file = freshPath();
    const { journal } = await Journal.open(file);
    await journal.append({ i: 1 });
    await journal.append({ i: 2 });
    let queuedHeadAsked = false;
    let queued: Promise<boolean> | undefined;
    // The settler starts a compaction that came due meanwhile once the running one finishes.
    const running = journal.rewrite(keeping((records) => records.slice(1))).finally(() => {
      queued = journal.rewrite(async (prefix) => {
        queuedHeadAsked = true;
        return encodeRecords(readJournalPrefix(prefix));
      });
    });
    await journal.close();
    expect(await running).toBe(true);
    expect(await queued).toBe(false);
    expect(queuedHeadAsked).toBe(false);
    expect(readJournal(readFileSync(file)).records).toEqual([{ i: 2 }]);
    expect(existsSync(`${file}.rewrite`)).toBe(false);
  });

  it("leaves the journal whole on a full disk, where the rewritten copy cannot be written", async (test) => {
    const disk = mountSmallFilesystem(path.join(dir, "small-disk"), 64 * 1024);
    if ("unavailable" in disk) return test.skip(disk.unavailable);
    const file = path.join(disk.dir, "journal.log");
    try {
      const { journal } = await Journal.open(file);
      for (let i = 0; i < 100; i++) await journal.append({ i, padding: "x".repeat(100) });
      disk.fill();
      // The rewrite drops nothing, so its copy needs as much room as the journal itself.
      await expect(journal.rewrite(keeping((records) => records))).rejects.toThrow(/ENOSPC/);
      expect(existsSync(`${file}.rewrite`)).toBe(false);
      disk.free();
      await journal.append({ i: 100 });
      await journal.close();
      expect(readJournal(readFileSync(file)).records.map((r) => r.i)).toEqual(
        Array.from({ length: 101 }, (_, i) => i),
      );
    } finally {
      disk.unmount();
    }
  });
});
