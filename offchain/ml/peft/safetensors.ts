/**
 * safetensors for PEFT adapters: F32, F16 and BF16 tensors, read into float32. Layout: u64
 * little-endian header length N, N bytes of JSON (`name → {dtype, shape, data_offsets}` and
 * an optional `__metadata__` of strings; padded with spaces to a multiple of 8), then the
 * data, little-endian. As the reference implementation requires, tensors must tile the data
 * section exactly: no gaps, overlaps or trailing bytes. Our writer is deterministic: names and
 * metadata keys sorted, data in that order.
 */
import { SafetensorsFormatError } from "../errors";
import { UnsupportedDtypeError } from "./errors";
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from "./halfPrecision";

export const SAFETENSORS_DTYPES = ["F32", "F16", "BF16"] as const;
export type SafetensorsDtype = (typeof SAFETENSORS_DTYPES)[number];

const BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2 };
export const METADATA_KEY = "__metadata__";
const MAX_HEADER_BYTES = 100_000_000;

export interface FloatTensor {
  shape: number[];
  /** Always float32, converted on load if the file holds F16 / BF16. */
  data: Float32Array;
}

export interface LoadedTensor extends FloatTensor {
  /** The dtype the file stored. */
  dtype: SafetensorsDtype;
}

export interface SafetensorsContent {
  tensors: Map<string, LoadedTensor>;
  metadata: Record<string, string>;
}

function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function elements(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function writeValue(view: DataView, at: number, value: number, dtype: SafetensorsDtype): void {
  if (dtype === "F32") view.setFloat32(at, value, true);
  else view.setUint16(at, dtype === "F16" ? f32ToF16(value) : f32ToBf16(value), true);
}

function readValue(view: DataView, at: number, dtype: SafetensorsDtype): number {
  if (dtype === "F32") return view.getFloat32(at, true);
  const bits = view.getUint16(at, true);
  return dtype === "F16" ? f16ToF32(bits) : bf16ToF32(bits);
}

/** Writes float tensors as `dtype` (F32 unless told; half precision rounds to nearest even). */
export function encodeSafetensors(
  tensors: Record<string, FloatTensor>,
  metadata: Record<string, string> = {},
  dtype: SafetensorsDtype = "F32",
): Uint8Array {
  const header: Record<string, unknown> = {};
  const keys = Object.keys(metadata).sort(byName);
  if (keys.length > 0) header[METADATA_KEY] = Object.fromEntries(keys.map((key) => [key, metadata[key]]));
  const names = Object.keys(tensors).sort(byName);
  let offset = 0;
  for (const name of names) {
    const { shape, data } = tensors[name] as FloatTensor;
    if (name === METADATA_KEY) throw new SafetensorsFormatError("reserved tensor name", { name });
    if (elements(shape) !== data.length) {
      throw new SafetensorsFormatError(`tensor ${name}: data does not match its shape`, { name, shape });
    }
    const size = data.length * BYTES[dtype];
    header[name] = { dtype, shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  const json = JSON.stringify(header);
  const length = new TextEncoder().encode(json).length;
  const text = new TextEncoder().encode(json + " ".repeat((8 - (length % 8)) % 8));
  const out = new Uint8Array(8 + text.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  let at = 8 + text.length;
  for (const name of names) {
    for (const value of (tensors[name] as FloatTensor).data) {
      writeValue(view, at, value, dtype);
      at += BYTES[dtype];
    }
  }
  return out;
}

/** The JSON header of a safetensors file and where its data starts (shared with lande's format). */
export function parseHeader(bytes: Uint8Array): { header: Record<string, unknown>; dataStart: number } {
  if (bytes.length < 8) throw new SafetensorsFormatError("file shorter than its header length", {});
  const length = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (length > BigInt(Math.min(MAX_HEADER_BYTES, bytes.length - 8))) {
    throw new SafetensorsFormatError("header length out of range", {
      headerLength: length.toString(),
      bytes: bytes.length,
    });
  }
  const dataStart = 8 + Number(length);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, dataStart)));
  } catch (error) {
    throw new SafetensorsFormatError("header is not valid JSON", { cause: String(error) });
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw new SafetensorsFormatError("header is not a JSON object", {});
  }
  return { header: header as Record<string, unknown>, dataStart };
}

/** The header's `__metadata__`: string values only. */
export function parseMetadata(value: unknown): Record<string, string> {
  if (value === undefined) return {};
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new SafetensorsFormatError("__metadata__ is not an object", {});
  }
  for (const [key, entry] of Object.entries(value)) {
    if (typeof entry !== "string") {
      throw new SafetensorsFormatError(`__metadata__ value ${key} is not a string`, { key });
    }
  }
  return value as Record<string, string>;
}

function isCounts(value: unknown, length?: number): value is number[] {
  return (
    Array.isArray(value) &&
    (length === undefined || value.length === length) &&
    value.every((v) => Number.isSafeInteger(v) && v >= 0)
  );
}

interface Span {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  begin: number;
  end: number;
}

function parseEntry(name: string, raw: unknown, dataLength: number): Span {
  const entry = (raw ?? {}) as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  if (typeof entry !== "object")
    throw new SafetensorsFormatError(`tensor ${name}: entry is not an object`, { name });
  const dtype = entry.dtype;
  if (!SAFETENSORS_DTYPES.includes(dtype as SafetensorsDtype)) {
    throw new UnsupportedDtypeError(`tensor ${name}: dtype ${String(dtype)} (only F32, F16, BF16)`, {
      tensor: name,
      dtype,
    });
  }
  if (!isCounts(entry.shape)) throw new SafetensorsFormatError(`tensor ${name}: bad shape`, { name });
  if (!isCounts(entry.data_offsets, 2)) {
    throw new SafetensorsFormatError(`tensor ${name}: bad data_offsets`, { name });
  }
  const [begin, end] = entry.data_offsets as [number, number];
  const size = elements(entry.shape) * BYTES[dtype as SafetensorsDtype];
  if (end < begin || end - begin !== size || end > dataLength) {
    throw new SafetensorsFormatError(`tensor ${name}: data_offsets do not match its shape or the file`, {
      name,
      begin,
      end,
      dataLength,
    });
  }
  return { name, dtype: dtype as SafetensorsDtype, shape: entry.shape, begin, end };
}

/** Reads a safetensors file; refuses malformed headers, other dtypes, gaps and truncation. */
export function decodeSafetensors(bytes: Uint8Array): SafetensorsContent {
  const { header, dataStart } = parseHeader(bytes);
  const dataLength = bytes.length - dataStart;
  const metadata = parseMetadata(header[METADATA_KEY]);
  const spans = Object.entries(header)
    .filter(([name]) => name !== METADATA_KEY)
    .map(([name, raw]) => parseEntry(name, raw, dataLength))
    .sort((x, y) => x.begin - y.begin || x.end - y.end);
  let cursor = 0;
  for (const span of spans) {
    if (span.begin !== cursor) {
      throw new SafetensorsFormatError(`tensor ${span.name}: data overlaps or leaves a gap`, {
        name: span.name,
      });
    }
    cursor = span.end;
  }
  if (cursor !== dataLength) {
    const last = spans.at(-1)?.name ?? "(none)";
    throw new SafetensorsFormatError(`data section does not end with the last tensor, ${last}`, {
      last,
      dataLength,
      cursor,
    });
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + dataStart, dataLength);
  const tensors = new Map<string, LoadedTensor>();
  for (const span of spans.sort((x, y) => byName(x.name, y.name))) {
    const data =
      span.dtype === "F32" && LITTLE_ENDIAN
        ? copyFloat32(bytes, dataStart + span.begin, elements(span.shape))
        : readValues(view, span);
    tensors.set(span.name, { dtype: span.dtype, shape: span.shape, data });
  }
  return { tensors, metadata };
}

/** Whether this machine stores floats little-endian, as safetensors does (then F32 is a copy). */
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** F32 data copied in one piece: the bytes are already this machine's float32 layout. */
function copyFloat32(bytes: Uint8Array, at: number, count: number): Float32Array {
  const start = bytes.byteOffset + at;
  return new Float32Array(bytes.buffer.slice(start, start + count * 4));
}

/** A tensor read value by value: half precision, or any dtype on a big-endian machine. */
function readValues(
  view: DataView,
  span: { begin: number; shape: number[]; dtype: SafetensorsDtype },
): Float32Array {
  const data = new Float32Array(elements(span.shape));
  for (let i = 0; i < data.length; i++)
    data[i] = readValue(view, span.begin + i * BYTES[span.dtype], span.dtype);
  return data;
}
