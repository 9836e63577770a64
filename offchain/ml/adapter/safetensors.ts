/**
 * Minimal safetensors reader and writer (float32 tensors only). Layout: an 8-byte
 * little-endian header length N, N bytes of JSON header (padded with spaces to a multiple of
 * 8), then the raw little-endian tensor data. The header maps each tensor name to
 * `{dtype, shape, data_offsets: [begin, end]}` (offsets relative to the data section) and may
 * hold a `__metadata__` map of strings. The writer is deterministic: tensors and metadata
 * keys in sorted order, data laid out in that order, no gaps.
 */
import { SafetensorsFormatError } from "../errors";
import { METADATA_KEY, parseHeader, parseMetadata } from "../peft/safetensors";

export interface Tensor {
  shape: number[];
  data: Float32Array;
}

export interface SafetensorsFile {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

function sortedKeys(record: Record<string, unknown>): string[] {
  return Object.keys(record).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

export function writeSafetensors(
  tensors: Record<string, Tensor>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const header: Record<string, unknown> = {};
  const metadataKeys = sortedKeys(metadata);
  if (metadataKeys.length > 0) {
    header[METADATA_KEY] = Object.fromEntries(metadataKeys.map((key) => [key, metadata[key]]));
  }
  const names = sortedKeys(tensors);
  let offset = 0;
  for (const name of names) {
    if (name === METADATA_KEY) throw new SafetensorsFormatError("reserved tensor name", { name });
    const tensor = tensors[name] as Tensor;
    const size = tensor.shape.reduce((a, b) => a * b, 1);
    if (size !== tensor.data.length) {
      throw new SafetensorsFormatError("tensor data does not match its shape", { name, shape: tensor.shape });
    }
    header[name] = { dtype: "F32", shape: tensor.shape, data_offsets: [offset, offset + size * 4] };
    offset += size * 4;
  }
  let json = JSON.stringify(header);
  const headerBytes = new TextEncoder().encode(json);
  json += " ".repeat((8 - (headerBytes.length % 8)) % 8);
  const paddedHeader = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + paddedHeader.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(paddedHeader.length), true);
  out.set(paddedHeader, 8);
  const dataStart = 8 + paddedHeader.length;
  let position = dataStart;
  for (const name of names) {
    for (const value of (tensors[name] as Tensor).data) {
      view.setFloat32(position, value, true);
      position += 4;
    }
  }
  return out;
}

interface HeaderEntry {
  dtype: unknown;
  shape: unknown;
  data_offsets: unknown;
}

function isNonNegativeIntegerArray(value: unknown, length?: number): value is number[] {
  return (
    Array.isArray(value) &&
    (length === undefined || value.length === length) &&
    value.every((v) => Number.isSafeInteger(v) && v >= 0)
  );
}

export function readSafetensors(bytes: Uint8Array): SafetensorsFile {
  const { header, dataStart } = parseHeader(bytes);
  const dataLength = bytes.length - dataStart;
  const metadata = parseMetadata(header[METADATA_KEY]);
  const entries = Object.entries(header).filter(([name]) => name !== METADATA_KEY);
  const spans: Array<{ name: string; begin: number; end: number; shape: number[] }> = [];
  for (const [name, raw] of entries) {
    const entry = raw as HeaderEntry;
    if (entry?.dtype !== "F32")
      throw new SafetensorsFormatError("unsupported dtype (only F32)", { name, dtype: entry?.dtype });
    if (!isNonNegativeIntegerArray(entry.shape)) throw new SafetensorsFormatError("bad shape", { name });
    if (!isNonNegativeIntegerArray(entry.data_offsets, 2))
      throw new SafetensorsFormatError("bad data_offsets", { name });
    const [begin, end] = entry.data_offsets as [number, number];
    const size = entry.shape.reduce((a, b) => a * b, 1);
    if (end < begin || end - begin !== size * 4 || end > dataLength) {
      throw new SafetensorsFormatError("data_offsets do not match shape or file size", { name, begin, end });
    }
    spans.push({ name, begin, end, shape: entry.shape });
  }
  spans.sort((x, y) => x.begin - y.begin);
  let cursor = 0;
  for (const span of spans) {
    if (span.begin !== cursor)
      throw new SafetensorsFormatError("tensor data overlaps or leaves a gap", { name: span.name });
    cursor = span.end;
  }
  if (cursor !== dataLength)
    throw new SafetensorsFormatError("trailing bytes after the last tensor", { dataLength });
  const view = new DataView(bytes.buffer, bytes.byteOffset + dataStart, dataLength);
  const tensors = new Map<string, Tensor>();
  for (const span of spans.sort((x, y) => (x.name < y.name ? -1 : 1))) {
    const data = new Float32Array((span.end - span.begin) / 4);
    for (let i = 0; i < data.length; i++) data[i] = view.getFloat32(span.begin + i * 4, true);
    tensors.set(span.name, { shape: span.shape, data });
  }
  return { tensors, metadata };
}
