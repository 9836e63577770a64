/**
 * An append-only, synchronously written (O_DSYNC) journal of JSON records with group commit:
 * appends that arrive while a write is in flight are written together in the next one, so a
 * busy runner pays one durable write per group, not per record. `append` resolves only once
 * the record is on disk; callers answer a request only after that.
 *
 * Line format: `<crc32 hex, 8 chars> <json>\n`. On open, a torn or corrupt tail (a crash mid-
 * write) is cut off at the last intact record; nothing before it is lost.
 *
 * `rewrite` replaces the journal (with a compacted one) while appends go on: see there.
 */
import { closeSync, constants, openSync, readFileSync, readSync } from "node:fs";
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

/**
 * Turns the {"$bigint": "123"} objects of a parsed record back into bigints, in place. JSON.parse
 * and then this walk read a journal back about 1.4× as fast as JSON.parse with a reviver, which
 * calls back for every value (bench:journal).
 */
export function reviveBigints(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = reviveBigints(value[i]);
    return value;
  }
  const object = value as Record<string, unknown>;
  if (typeof object.$bigint === "string") return BigInt(object.$bigint);
  for (const key of Object.keys(object)) {
    const field = object[key];
    if (field !== null && typeof field === "object") object[key] = reviveBigints(field);
  }
  return object;
}

/** A record as one journal line. */
export function encodeRecord(record: JournalRecord): Buffer {
  const json = JSON.stringify(record, replacer);
  const checksum = crc32(json).toString(16).padStart(8, "0");
  return Buffer.from(`${checksum} ${json}\n`);
}

/** Records as journal lines. */
export function encodeRecords(records: readonly JournalRecord[]): Buffer {
  return Buffer.concat(records.map(encodeRecord));
}

/** The first `length` bytes of a journal file, all acknowledged records (see Journal.rewrite). */
export interface JournalPrefix {
  path: string;
  length: number;
}

/** The records of a journal prefix; throws if any of them is not intact. */
export function readJournalPrefix(prefix: JournalPrefix): JournalRecord[] {
  return parsePrefix(prefix, parseRecord).records;
}

/**
 * A journal prefix's records parsed as plain JSON, bigints left as the journal writes them
 * ({"$bigint": "…"}: see journalBigint), with the bytes they were read from: record i is
 * `bytes.subarray(ends[i - 1] ?? 0, ends[i])`, so a record kept unchanged can be copied as it
 * lies (journal compaction does).
 */
export interface RawJournalPrefix {
  bytes: Buffer;
  records: JournalRecord[];
  ends: number[];
}

export function readRawJournalPrefix(prefix: JournalPrefix): RawJournalPrefix {
  return parsePrefix(prefix, (json) => JSON.parse(json));
}

/** A bigint field of a record, whether read with readJournal or raw (readRawJournalPrefix). */
export function journalBigint(value: unknown): bigint {
  if (typeof value === "bigint") return value;
  if (value && typeof value === "object" && "$bigint" in value)
    return BigInt((value as { $bigint: string }).$bigint);
  throw new Error(`journal: ${JSON.stringify(value)} is not a bigint`);
}

/** Reads a prefix's bytes and parses its lines; throws unless every one is intact. */
function parsePrefix(
  { path, length }: JournalPrefix,
  parse: (json: string) => JournalRecord,
): RawJournalPrefix {
  const bytes = Buffer.alloc(length);
  const handle = openSync(path, "r");
  try {
    const read = readSync(handle, bytes, 0, length, 0);
    if (read !== length) throw new Error(`journal: read ${read} of ${length} bytes of ${path}`);
  } finally {
    closeSync(handle);
  }
  const { records, ends } = parseJournalLines(bytes, parse);
  if ((ends.at(-1) ?? 0) !== length)
    throw new Error(`journal: a record of ${path} before byte ${length} is corrupt`);
  return { bytes, records, ends };
}

/** Parses the intact prefix of a journal file; returns its records and its length in bytes. */
export function readJournal(bytes: Buffer): { records: JournalRecord[]; validLength: number } {
  const { records, ends } = parseJournalLines(bytes, parseRecord);
  return { records, validLength: ends.at(-1) ?? 0 };
}

const parseRecord = (json: string) => reviveBigints(JSON.parse(json)) as JournalRecord;

/**
 * The intact lines' records, each parsed by `parse`, and where each line ends (after its
 * newline). Exported for bench:journal, which compares ways to parse.
 */
export function parseJournalLines(bytes: Buffer, parse: (json: string) => JournalRecord) {
  const records: JournalRecord[] = [];
  const ends: number[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const end = bytes.indexOf(0x0a, offset);
    if (end === -1) break; // torn last line
    const line = bytes.subarray(offset, end).toString();
    const json = line.slice(9);
    if (line[8] !== " " || crc32(json).toString(16).padStart(8, "0") !== line.slice(0, 8)) break;
    records.push(parse(json));
    offset = end + 1;
    ends.push(offset);
  }
  return { records, ends };
}

interface Pending {
  bytes: Buffer;
  resolve(): void;
  reject(error: Error): void;
}

const { O_RDWR, O_APPEND, O_CREAT, O_TRUNC, O_DSYNC, O_RDONLY } = constants;

export class Journal {
  private queue: Pending[] = [];
  private flushing: Promise<void> | null = null;
  /** The group being written, if any: a rewrite waits for it before it swaps files. */
  private committing: Promise<void> | null = null;
  /** Set while a rewrite swaps files: commits wait for it. */
  private swapping: Promise<void> | null = null;
  private rewriting: Promise<boolean> | null = null;
  private closing = false;
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
   * Replaces the journal with `headFor(prefix)`, the encoded records to keep of the `prefix`
   * acknowledged so far (computed elsewhere: on a worker thread, say), followed by every record
   * acknowledged while it ran, byte for byte. Appends go on meanwhile; they wait only while the
   * files are swapped. The new journal is written beside the old one, synced, then renamed over
   * it, so a crash or a full disk at any point leaves one whole journal: the old one, or the new.
   * A failure throws and leaves the journal as it was. Resolves to false, doing nothing, while
   * another rewrite runs.
   */
  async rewrite(headFor: (prefix: JournalPrefix) => Promise<Uint8Array>): Promise<boolean> {
    // A compaction queued behind another while the runner shuts down comes too late: the file is
    // closed, or about to be.
    if (this.rewriting || this.closing) return false;
    this.rewriting = this.rewriteOnce(headFor);
    try {
      return await this.rewriting;
    } finally {
      this.rewriting = null;
    }
  }

  private async rewriteOnce(headFor: (prefix: JournalPrefix) => Promise<Uint8Array>): Promise<boolean> {
    const temporary = `${this.path}.rewrite`;
    let next: FileHandle | null = null;
    try {
      const prefix = this.length;
      const bytes = await headFor({ path: this.path, length: prefix });
      const head = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      next = await open(temporary, O_RDWR | O_APPEND | O_CREAT | O_TRUNC | O_DSYNC, 0o644);
      await writeAll(next, head);
      await this.swap(next, temporary, prefix, head.length);
      next = null;
      this.stats.rewrites += 1;
      return true;
    } finally {
      if (next && next !== this.file) {
        await next.close().catch(() => {});
        await unlink(temporary).catch(() => {});
      }
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
      const { bytesRead } = await this.file.read(tail, 0, tail.length, prefix);
      if (bytesRead !== tail.length)
        throw new Error(`journal: read ${bytesRead} of ${tail.length} bytes back`);
      await writeAll(next, tail);
      await next.datasync();
      await rename(temporary, this.path);
      // The path names the new file now: write there, whatever happens next.
      const old = this.file;
      this.file = next;
      this.length = headLength + tail.length;
      await old.close().catch(() => {});
      // Commits wait for this: none is acknowledged in a file a crash could still undo.
      await syncDirectory(path.dirname(this.path));
    } finally {
      this.swapping = null;
      release();
    }
  }

  /** Waits for pending appends and a rewrite under way, then closes the file; refuses rewrites from now. */
  async close(): Promise<void> {
    this.closing = true;
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
