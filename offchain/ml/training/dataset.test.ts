import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { DatasetError } from "../errors";
import { contentHash } from "../hash";
import { parseCsv, parseJsonl, readDataset } from "./dataset";

const dir = mkdtempSync(join(tmpdir(), "openlora-data-"));
function file(name: string, content: string | Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

describe("CSV data", () => {
  it("reads text,label with RFC 4180 quoting, any column order, extra columns ignored", () => {
    const csv = 'id,label,text\r\n1,spam,"Win, win, ""WIN""\nnow"\n2,ham,plain text\n\n';
    expect(parseCsv(csv)).toEqual([
      { text: 'Win, win, "WIN"\nnow', label: "spam" },
      { text: "plain text", label: "ham" },
    ]);
  });

  it("refuses an empty file or a header without rows", () => {
    expect(() => parseCsv("", "e.csv")).toThrow(/empty data set: e.csv/);
    expect(() => parseCsv("text,label\n", "h.csv")).toThrow(/empty data set: h.csv/);
  });

  it("refuses a header without text and label columns", () => {
    expect(() => parseCsv("message,class\nhi,a\n", "x.csv")).toThrow(/must name the columns text and label/);
  });

  it("refuses unlabeled rows, naming the row", () => {
    expect(() => parseCsv("text,label\nfine,a\nno label here,\n", "u.csv")).toThrow(
      /unlabeled row 2 in u.csv/,
    );
    expect(() => parseCsv('text,label\nfine,a\nblank,"  "\n', "u.csv")).toThrow(DatasetError);
  });

  it("refuses malformed rows: wrong field count, unterminated or stray quotes, empty text", () => {
    expect(() => parseCsv("text,label\na,b,c\n", "m.csv")).toThrow(/malformed row 1 in m.csv: 3 fields/);
    expect(() => parseCsv('text,label\n"open,a\n', "m.csv")).toThrow(/unterminated quote/);
    expect(() => parseCsv('text,label\n"x"y,a\n', "m.csv")).toThrow(/text after a closing quote/);
    expect(() => parseCsv("text,label\n,a\n", "m.csv")).toThrow(/malformed row 1 in m.csv: empty text/);
  });
});

describe("JSONL data", () => {
  it("reads one object per line, skipping blank lines and extra keys", () => {
    const jsonl = '{"text":"gm frens","label":"positive","id":7}\n\n{"label":"negative","text":"rekt"}\n';
    expect(parseJsonl(jsonl)).toEqual([
      { text: "gm frens", label: "positive" },
      { text: "rekt", label: "negative" },
    ]);
  });

  it("refuses empty, unlabeled and malformed rows with their line numbers", () => {
    expect(() => parseJsonl("\n\n", "e.jsonl")).toThrow(/empty data set: e.jsonl/);
    expect(() => parseJsonl('{"text":"a","label":"x"}\n{"text":"b"}\n', "u.jsonl")).toThrow(
      /unlabeled row 2 in u.jsonl/,
    );
    expect(() => parseJsonl('{"text":"a","label":null}\n', "u.jsonl")).toThrow(/unlabeled row 1/);
    expect(() => parseJsonl('{"text":"a","label":"x"}\n{"text":"b",\n', "m.jsonl")).toThrow(
      /malformed row 2 in m.jsonl: not JSON/,
    );
    expect(() => parseJsonl('["a","x"]\n', "m.jsonl")).toThrow(/not a JSON object/);
    expect(() => parseJsonl('{"text":5,"label":"x"}\n', "m.jsonl")).toThrow(/text is not a string/);
    expect(() => parseJsonl('{"text":"a","label":3}\n', "m.jsonl")).toThrow(/label is not a string/);
  });
});

describe("data set files", () => {
  it("hashes the file bytes and reads .csv, .jsonl and gzip-compressed files", () => {
    const content = '{"text":"hello","label":"a"}\n{"text":"bye","label":"b"}\n';
    const plain = readDataset(file("d.jsonl", content));
    expect(plain.hash).toBe(contentHash(new TextEncoder().encode(content)));
    expect(plain.name).toBe("d.jsonl");
    const packed = gzipSync(content);
    const gz = readDataset(file("d.jsonl.gz", packed));
    expect(gz.rows).toEqual(plain.rows);
    expect(gz.hash).toBe(contentHash(packed));
    expect(readDataset(file("d.csv", "text,label\nhello,a\n")).rows).toEqual([{ text: "hello", label: "a" }]);
  });

  it("refuses unknown formats, missing files and corrupt gzip", () => {
    expect(() => readDataset(file("d.txt", "x"))).toThrow(/use .csv or .jsonl/);
    expect(() => readDataset(join(dir, "missing.csv"))).toThrow(/cannot read data set/);
    expect(() => readDataset(file("bad.jsonl.gz", "not gzip"))).toThrow(/cannot decompress/);
  });
});
