/**
 * An append-only, synchronously written (O_DSYNC) journal of JSON records with group commit:
 * appends that arrive while a write is in flight are written together in the next one, so a
 * busy runner pays one durable write per group, not per record. `append` resolves only once
 * the record is on disk; callers answer a request only after that.
 *
 * Line format: `<crc32 hex, 8 chars> <json>\n`. On open, a torn or corrupt tail (a crash mid-
 * write) is cut off at the last intact record; nothing before it is lost.
 */
import { constants, readFileSync } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { crc32 } from "node:zlib";

export type JournalRecord = Record<string, unknown>;

export class JournalWriteError extends Error {
  constructor(
    message: string,
    readonly details: { path: string; code?: string },
  ) {
    super(message);
    this.name = "JournalWriteError";
  }
}

/** bigint values survive the round trip as {"$bigint": "123"}. */
function replacer(_key: string, value: unknown) {
  return typeof value === "bigint" ? { $bigint: value.toString() } : value;
}
function reviver(_key: string, value: unknown) {
  if (value && typeof value === "object" && "$bigint" in value)
    return BigInt((value as { $bigint: string }).$bigint);
  return value;
}

/** A record as one journal line. */
export function encodeRecord(record: JournalRecord): Buffer {
  const json = JSON.stringify(record, replacer);
  const checksum = crc32(json).toString(16).padStart(8, "0");
  return Buffer.from(`${checksum} ${json}\n`);
}

/** Parses the intact prefix of a journal file; returns its records and its length in bytes. */
export function readJournal(bytes: Buffer): { records: JournalRecord[]; validLength: number } {
  const records: JournalRecord[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const end = bytes.indexOf(0x0a, offset);
    if (end === -1) break; // torn last line
    const line = bytes.subarray(offset, end).toString();
    const json = line.slice(9);
    if (line[8] !== " " || crc32(json).toString(16).padStart(8, "0") !== line.slice(0, 8)) break;
    records.push(JSON.parse(json, reviver));
    offset = end + 1;
  }
  return { records, validLength: offset };
}

interface Pending {
  bytes: Buffer;
  resolve(): void;
  reject(error: Error): void;
}

export class Journal {
  private queue: Pending[] = [];
  private flushing: Promise<void> | null = null;
  private length: number;
  readonly stats = { records: 0, syncs: 0 };

  private constructor(
    readonly path: string,
    private readonly file: FileHandle,
    length: number,
  ) {
    this.length = length;
  }

  /** Opens (or creates) a journal, repairs a torn tail, and returns it with the records it holds. */
  static async open(path: string): Promise<{ journal: Journal; records: JournalRecord[] }> {
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      bytes = Buffer.alloc(0);
    }
    const { records, validLength } = readJournal(bytes);
    // O_DSYNC: each write returns once its data is on disk, so a group commit is one
    // thread-pool round trip (write) instead of two (write, then fdatasync).
    const { O_RDWR, O_APPEND, O_CREAT, O_DSYNC } = constants;
    const file = await open(path, O_RDWR | O_APPEND | O_CREAT | O_DSYNC, 0o644);
    if (validLength < bytes.length) {
      await file.truncate(validLength);
      await file.datasync();
    }
    return { journal: new Journal(path, file, validLength), records };
  }

  /** Appends a record; resolves once it is durably on disk. */
  append(record: JournalRecord): Promise<void> {
    const bytes = encodeRecord(record);
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ bytes, resolve, reject });
      this.flushing ??= this.flushLoop();
    });
  }

  private async flushLoop(): Promise<void> {
    while (this.queue.length > 0) {
      const group = this.queue;
      this.queue = [];
      await this.commit(group);
    }
    this.flushing = null;
  }

  private async commit(group: Pending[]): Promise<void> {
    const bytes = Buffer.concat(group.map((p) => p.bytes));
    try {
      let written = 0;
      while (written < bytes.length) {
        const { bytesWritten } = await this.file.write(bytes, written, bytes.length - written);
        written += bytesWritten;
      }
    } catch (error) {
      // Cut off whatever part of the group reached the file, so that the journal holds
      // exactly the acknowledged records; the caller answers these requests with an error.
      await this.file.truncate(this.length).catch(() => {});
      const code = (error as NodeJS.ErrnoException).code;
      const failure = new JournalWriteError(`journal write failed: ${(error as Error).message}`, {
        path: this.path,
        ...(code ? { code } : {}),
      });
      for (const pending of group) pending.reject(failure);
      return;
    }
    this.length += bytes.length;
    this.stats.records += group.length;
    this.stats.syncs += 1;
    for (const pending of group) pending.resolve();
  }

  /** Waits for pending appends, then closes the file. */
  async close(): Promise<void> {
    await this.flushing;
    await this.file.close();
  }
}
