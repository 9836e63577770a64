/**
 * What travels between the runner's event loop and its inference thread (useLiteThread.ts): a
 * batch's token ids packed into typed arrays (one copy of a few hundred numbers, not an object per
 * row), its answers packed into one Float32Array whose buffer is transferred back, and errors as
 * name, message and details (structured cloning keeps the built-in errors' kinds, not our
 * classes' names or details).
 */
import type { PeftAdapter } from "../../ml/peft/adapterModel";
import type { TokenRow } from "./useLiteExecutor";

/** Rows as typed arrays: every row's ids one after another, each row's length and slot. */
export interface PackedRows {
  ids: Int32Array<ArrayBuffer>;
  lengths: Int32Array<ArrayBuffer>;
  slots: Int32Array<ArrayBuffer>;
}

/** Answers one after another; `widths[i]` values are row i's. */
export interface PackedAnswers {
  values: Float32Array<ArrayBuffer>;
  widths: Int32Array<ArrayBuffer>;
}

export interface WireError {
  name: string;
  message: string;
  details?: unknown;
}

export type ToThread =
  | { op: "write"; slot: number; adapter: PeftAdapter }
  | { op: "run"; id: number; rows: PackedRows }
  /** Releases the session after what was posted before, and ends the thread. */
  | { op: "close" };

export type FromThread =
  | { op: "ready"; method: string }
  | { op: "failed"; error: WireError }
  | { op: "answers"; id: number; answers: PackedAnswers }
  | { op: "error"; id: number; error: WireError };

export function packRows(rows: readonly TokenRow[]): PackedRows {
  let total = 0;
  for (const row of rows) total += row.input.length;
  const ids = new Int32Array(total);
  const lengths = new Int32Array(rows.length);
  const slots = new Int32Array(rows.length);
  let at = 0;
  rows.forEach((row, i) => {
    ids.set(row.input, at);
    at += row.input.length;
    lengths[i] = row.input.length;
    slots[i] = row.slot;
  });
  return { ids, lengths, slots };
}

export function unpackRows({ ids, lengths, slots }: PackedRows): TokenRow[] {
  let at = 0;
  return Array.from(lengths, (length, i) => {
    const input = Array.from(ids.subarray(at, at + length));
    at += length;
    return { input, slot: slots[i] as number };
  });
}

export function packAnswers(answers: readonly Float32Array[]): PackedAnswers {
  const widths = Int32Array.from(answers, (answer) => answer.length);
  const values = new Float32Array(widths.reduce((sum, width) => sum + width, 0));
  let at = 0;
  for (const answer of answers) {
    values.set(answer, at);
    at += answer.length;
  }
  return { values, widths };
}

/** Each row's answer, as views over the one transferred buffer. */
export function unpackAnswers({ values, widths }: PackedAnswers): Float32Array[] {
  let at = 0;
  return Array.from(widths, (width) => {
    const answer = values.subarray(at, at + width);
    at += width;
    return answer;
  });
}

/**
 * A decoded adapter with each array in a buffer of its own, so that cloning it copies its values
 * and not a larger buffer it may be a view of.
 */
export function ownedAdapter(adapter: PeftAdapter): PeftAdapter {
  const own = (values: Float32Array) =>
    values.byteOffset === 0 && values.byteLength === values.buffer.byteLength ? values : values.slice();
  const factors = new Map(
    [...adapter.factors].map(([module, { a, b }]) => [module, { a: own(a), b: own(b) }]),
  );
  const { head } = adapter;
  return head
    ? { config: adapter.config, factors, head: { ...head, weight: own(head.weight), bias: own(head.bias) } }
    : { config: adapter.config, factors };
}

export function toWire(error: unknown): WireError {
  if (!(error instanceof Error)) return { name: "Error", message: String(error) };
  const details = (error as { details?: unknown }).details;
  return { name: error.name, message: error.message, ...(details === undefined ? {} : { details }) };
}

const BUILT_IN: Record<string, ErrorConstructor> = {
  Error,
  RangeError,
  TypeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

/** The error again, of the same built-in kind (RangeError stays a RangeError), its name and details kept. */
export function fromWire(wire: WireError): Error {
  const error = new (BUILT_IN[wire.name] ?? Error)(wire.message);
  if (error.name !== wire.name) error.name = wire.name;
  if (wire.details !== undefined) Object.assign(error, { details: wire.details });
  return error;
}
