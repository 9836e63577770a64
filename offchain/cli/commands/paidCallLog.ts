/**
 * Where `openlora call --out FILE` keeps every paid answer: one JSON object per line (JSONL),
 * appended and flushed to disk before the next call is paid for, so that a crash or a refused
 * payment later in the run loses none of the answers already paid for.
 */
import { closeSync, fsyncSync, openSync, writeSync } from "node:fs";
import { CliError, ExitCode } from "../errors";
import { toJson } from "./chainOptions";

export class PaidCallLog {
  private constructor(
    readonly file: string,
    private readonly fd: number,
  ) {}

  /** Opens `file` for appending: answers of earlier runs stay. */
  static open(file: string): PaidCallLog {
    try {
      return new PaidCallLog(file, openSync(file, "a"));
    } catch (error) {
      throw new CliError(`cannot write ${file}: ${(error as Error).message}`, ExitCode.usage, { file });
    }
  }

  /** Writes one record as a line and waits until it is on disk. */
  append(record: Record<string, unknown>): void {
    writeSync(this.fd, `${toJson(record)}\n`);
    fsyncSync(this.fd);
  }

  close(): void {
    closeSync(this.fd);
  }
}
