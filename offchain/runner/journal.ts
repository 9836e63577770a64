/**
 * An append-only, synchronously written (O_DSYNC) journal of JSON records with group commit:
 * appends that arrive while a write is in flight are written together in the next one, so a
 * busy runner pays one durable write per group, not per record. `append` resolves only once
 * the record is on disk; callers answer a request only after that.
 *
 * Line format: `<crc32 hex, 8 chars> <json>\n`. On open, a torn or corrupt tail (a crash mid-
 * write) is cut off at the last intact record; nothing before it is lost.
 *
 * `rewrite` compacts the journal while appends go on: see there.
 */
import { constants, readFileSync } from "node:fs";
import { type FileHandle, open, rename, unlink } from "node:fs/promises";
import path from "node:path";
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

/** Records parsed per turn of the event loop while a rewrite reads the journal back. */
const RECORDS_PARSED_PER_TURN = 2_000;

const { O_RDWR, O_APPEND, O_CREAT, O_TRUNC, O_DSYNC, O_RDONLY } = constants;

export class Journal {
  private queue: Pending[] = [];
  private flushing: Promise<void> | null = null;
  /** The group being written, if any: a rewrite waits for it before it swaps files. */
  private committing: Promise<void> | null = null;
  /** Set while a rewrite swaps files: commits wait for it. */
  private swapping: Promise<void> | null = null;
  private rewriting: Promise<boolean> | null = null;
  private length: number;
  readonly stats = { records: 0, syncs: 0, rewrites: 0 };

  private constructor(
    readonly path: string,
    private file: FileHandle,
    length: number,
  ) {
    this.length = length;
  }

  /** Bytes of acknowledged records in the file. */
  get size(): number {
    return this.length;
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
      if (this.swapping) await this.swapping;
      const group = this.queue;
      this.queue = [];
      this.committing = this.commit(group);
      await this.committing;
      this.committing = null;
    }
    this.flushing = null;
  }

  private async commit(group: Pending[]): Promise<void> {
    const bytes = Buffer.concat(group.map((p) => p.bytes));
    try {
      await writeAll(this.file, bytes);
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

  /**
   * Replaces the journal with `keep(records)`, computed from the records acknowledged so far,
   * followed by every record acknowledged while it ran, byte for byte. Appends go on meanwhile;
   * they wait only while the files are swapped. The new journal is written beside the old one,
   * synced, then renamed over it, so a crash or a full disk at any point leaves one whole
   * journal: the old one, or the new. Resolves to false, leaving the journal as it was, when
   * the new one cannot be written (the error is thrown) or a rewrite is already running.
   */
  async rewrite(keep: (records: JournalRecord[]) => JournalRecord[]): Promise<boolean> {
    if (this.rewriting) return false;
    this.rewriting = this.rewriteOnce(keep);
    try {
      return await this.rewriting;
    } finally {
      this.rewriting = null;
    }
  }

  private async rewriteOnce(keep: (records: JournalRecord[]) => JournalRecord[]): Promise<boolean> {
    const temporary = `${this.path}.rewrite`;
    let next: FileHandle | null = null;
    try {
      const prefix = this.length;
      const kept = keep(await this.readBack(prefix));
      next = await open(temporary, O_RDWR | O_APPEND | O_CREAT | O_TRUNC | O_DSYNC, 0o644);
      const head = Buffer.concat(kept.map(encodeRecord));
      await writeAll(next, head);
      await this.swap(next, temporary, prefix, head.length);
      next = null;
      this.stats.rewrites += 1;
      return true;
    } finally {
      if (next) {
        await next.close().catch(() => {});
        await unlink(temporary).catch(() => {});
      }
    }
  }

  /** The records in the first `length` bytes, parsed a slice per turn of the event loop. */
  private async readBack(length: number): Promise<JournalRecord[]> {
    const reader = await open(this.path, O_RDONLY);
    try {
      const bytes = Buffer.alloc(length);
      const { bytesRead } = await reader.read(bytes, 0, length, 0);
      if (bytesRead !== length) throw new Error(`journal: read ${bytesRead} of ${length} bytes back`);
      const records: JournalRecord[] = [];
      let offset = 0;
      while (offset < length) {
        let end = offset;
        for (let n = 0; n < RECORDS_PARSED_PER_TURN && end < length; n++) {
          const newline = bytes.indexOf(0x0a, end);
          end = newline === -1 ? length : newline + 1;
        }
        const slice = readJournal(bytes.subarray(offset, end));
        if (slice.validLength !== end - offset) throw new Error("journal: an acknowledged record is corrupt");
        records.push(...slice.records);
        offset = end;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      return records;
    } finally {
      await reader.close();
    }
  }

  /**
   * With commits held: copies what was acknowledged after `prefix` to the new file, syncs it,
   * renames it over the journal and writes to it from then on.
   */
  private async swap(next: FileHandle, temporary: string, prefix: number, headLength: number): Promise<void> {
    let release = () => {};
    this.swapping = new Promise<void>((resolve) => {
      release = resolve;
    });
    try {
      await this.committing;
      const tail = Buffer.alloc(this.length - prefix);
      if (tail.length > 0) await this.file.read(tail, 0, tail.length, prefix);
      await writeAll(next, tail);
      await next.datasync();
      await rename(temporary, this.path);
      await syncDirectory(path.dirname(this.path));
      const old = this.file;
      this.file = next;
      this.length = headLength + tail.length;
      await old.close().catch(() => {});
    } finally {
      this.swapping = null;
      release();
    }
  }

  /** Waits for pending appends, then closes the file. */
  async close(): Promise<void> {
    await this.rewriting?.catch(() => false);
    await this.flushing;
    await this.file.close();
  }
}

async function writeAll(file: FileHandle, bytes: Buffer): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    const { bytesWritten } = await file.write(bytes, written, bytes.length - written);
    written += bytesWritten;
  }
}

/** Makes a rename in `directory` durable. */
async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
