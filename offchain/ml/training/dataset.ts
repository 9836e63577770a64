/**
 * Labelled text data sets: CSV with a header naming `text` and `label` columns (RFC 4180
 * quoting, other columns ignored) or JSONL with one `{"text": ..., "label": ...}` object per
 * line (other keys ignored). Empty files, rows without a label and malformed rows are refused
 * with a DatasetError that names the file and the row.
 */
import { readFileSync } from "node:fs";
import { basename, extname } from "node:path";
import { gunzipSync } from "node:zlib";
import type { Hex } from "viem";
import { DatasetError } from "../errors";
import { contentHash } from "../hash";

export interface Example {
  text: string;
  label: string;
}

export interface Dataset {
  name: string;
  /** keccak256 of the file bytes. */
  hash: Hex;
  rows: Example[];
}

export type DataFormat = "csv" | "jsonl";

function checkRow(file: string, row: number, text: unknown, label: unknown): Example {
  if (typeof text !== "string")
    throw new DatasetError(`malformed row ${row} in ${file}: text is not a string`, { file, row });
  if (text.trim() === "")
    throw new DatasetError(`malformed row ${row} in ${file}: empty text`, { file, row });
  if (label === undefined || label === null || (typeof label === "string" && label.trim() === "")) {
    throw new DatasetError(`unlabeled row ${row} in ${file}`, { file, row });
  }
  if (typeof label !== "string")
    throw new DatasetError(`malformed row ${row} in ${file}: label is not a string`, { file, row });
  return { text, label: label.trim() };
}

/** Splits CSV text into records of fields (RFC 4180: quotes, doubled quotes, CRLF). */
export function parseCsvRecords(text: string, file = "csv"): string[][] {
  const records: string[][] = [];
  let field = "";
  let record: string[] = [];
  let quoted = false;
  let fieldStarted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') {
        quoted = false;
        const next = text[i + 1];
        if (next !== undefined && next !== "," && next !== "\n" && next !== "\r") {
          throw new DatasetError(`malformed row ${records.length} in ${file}: text after a closing quote`, {
            file,
            row: records.length,
          });
        }
      } else field += ch;
      continue;
    }
    if (ch === '"' && !fieldStarted) {
      quoted = true;
      fieldStarted = true;
    } else if (ch === ",") {
      record.push(field);
      field = "";
      fieldStarted = false;
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i++;
      record.push(field);
      records.push(record);
      record = [];
      field = "";
      fieldStarted = false;
    } else {
      field += ch;
      fieldStarted = true;
    }
  }
  if (quoted)
    throw new DatasetError(`malformed row ${records.length} in ${file}: unterminated quote`, { file });
  if (fieldStarted || record.length > 0) {
    record.push(field);
    records.push(record);
  }
  // Blank lines carry no row.
  return records.filter((r) => !(r.length === 1 && r[0] === ""));
}

export function parseCsv(text: string, file = "csv"): Example[] {
  const [header, ...records] = parseCsvRecords(text, file);
  if (!header) throw new DatasetError(`empty data set: ${file}`, { file });
  const columns = header.map((name) => name.trim().toLowerCase());
  const textColumn = columns.indexOf("text");
  const labelColumn = columns.indexOf("label");
  if (textColumn < 0 || labelColumn < 0) {
    throw new DatasetError(`CSV header of ${file} must name the columns text and label`, { file, header });
  }
  if (records.length === 0) throw new DatasetError(`empty data set: ${file}`, { file });
  return records.map((record, index) => {
    const row = index + 1;
    if (record.length !== header.length) {
      throw new DatasetError(
        `malformed row ${row} in ${file}: ${record.length} fields, header has ${header.length}`,
        {
          file,
          row,
        },
      );
    }
    return checkRow(file, row, record[textColumn], record[labelColumn]);
  });
}

export function parseJsonl(text: string, file = "jsonl"): Example[] {
  const rows: Example[] = [];
  text.split(/\r?\n/).forEach((line, index) => {
    if (line.trim() === "") return;
    const row = index + 1;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new DatasetError(`malformed row ${row} in ${file}: not JSON`, { file, row });
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new DatasetError(`malformed row ${row} in ${file}: not a JSON object`, { file, row });
    }
    const record = value as Record<string, unknown>;
    rows.push(checkRow(file, row, record.text, record.label));
  });
  if (rows.length === 0) throw new DatasetError(`empty data set: ${file}`, { file });
  return rows;
}

/** The format named by a file's extension (a trailing `.gz` means gzip-compressed). */
export function formatOf(path: string): DataFormat {
  const extension = extname(path.replace(/\.gz$/i, "")).toLowerCase();
  if (extension === ".csv") return "csv";
  if (extension === ".jsonl" || extension === ".ndjson") return "jsonl";
  throw new DatasetError(`unknown data format of ${basename(path)}: use .csv or .jsonl (optionally .gz)`, {
    path,
  });
}

/** Reads a data set file; its hash is keccak256 of the file's bytes (compressed, if gzip). */
export function readDataset(path: string): Dataset {
  const format = formatOf(path);
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new DatasetError(`cannot read data set ${path}`, { path, cause: String(error) });
  }
  const name = basename(path);
  let text: string;
  try {
    text = (/\.gz$/i.test(path) ? gunzipSync(bytes) : bytes).toString("utf8");
  } catch (error) {
    throw new DatasetError(`cannot decompress ${name}`, { path, cause: String(error) });
  }
  const rows = format === "csv" ? parseCsv(text, name) : parseJsonl(text, name);
  return { name, hash: contentHash(bytes), rows };
}

/** The sorted distinct labels of some rows. */
export function labelsOf(rows: readonly Example[]): string[] {
  return [...new Set(rows.map((row) => row.label))].sort();
}
