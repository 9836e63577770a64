import { describe, expect, it } from "vitest";
import { SafetensorsFormatError } from "../errors";
import { readSafetensors, writeSafetensors } from "./safetensors";

function header(bytes: Uint8Array): { length: number; json: string } {
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { length, json: new TextDecoder().decode(bytes.subarray(8, 8 + length)) };
}

function withHeader(json: string, data: Uint8Array): Uint8Array {
  const text = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  return out;
}

describe("safetensors", () => {
  const tensors = {
    "z.last": { shape: [3], data: Float32Array.of(1.5, -2, 3.25) },
    "a.first": { shape: [2, 2], data: Float32Array.of(0.1, 0.2, 0.3, 0.4) },
  };

  it("round-trips tensors and metadata", () => {
    const bytes = writeSafetensors(tensors, { b: "2", a: "1" });
    const file = readSafetensors(bytes);
    expect(file.metadata).toEqual({ a: "1", b: "2" });
    expect([...file.tensors.keys()]).toEqual(["a.first", "z.last"]);
    expect(file.tensors.get("z.last")).toEqual(tensors["z.last"]);
    expect(file.tensors.get("a.first")?.shape).toEqual([2, 2]);
    expect(Array.from(file.tensors.get("a.first")?.data ?? [])).toEqual(Array.from(tensors["a.first"].data));
  });

  it("writes the standard layout: u64 LE header length (8-aligned), sorted JSON header, LE float32 data", () => {
    const bytes = writeSafetensors(tensors, { note: "x" });
    const { length, json } = header(bytes);
    expect(length % 8).toBe(0);
    expect(JSON.parse(json)).toEqual({
      __metadata__: { note: "x" },
      "a.first": { dtype: "F32", shape: [2, 2], data_offsets: [0, 16] },
      "z.last": { dtype: "F32", shape: [3], data_offsets: [16, 28] },
    });
    expect(json.indexOf('"a.first"')).toBeLessThan(json.indexOf('"z.last"'));
    const data = new DataView(bytes.buffer, 8 + length);
    expect(data.getFloat32(16, true)).toBe(1.5);
    expect(bytes.length).toBe(8 + length + 28);
  });

  it("is deterministic whatever the insertion order", () => {
    const reversed = { "a.first": tensors["a.first"], "z.last": tensors["z.last"] };
    expect(Buffer.from(writeSafetensors(tensors, { x: "1", y: "2" }))).toEqual(
      Buffer.from(writeSafetensors(reversed, { y: "2", x: "1" })),
    );
  });

  it("refuses malformed files", () => {
    const data = new Uint8Array(8);
    const bad = [
      new Uint8Array(4),
      withHeader("{not json", data),
      withHeader('{"t":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}', new Uint8Array(4)),
      withHeader('{"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', data),
      withHeader('{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', data),
      withHeader('{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":{"k":1}}', data),
      withHeader(
        '{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"u":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
        data,
      ),
    ];
    for (const bytes of bad) expect(() => readSafetensors(bytes)).toThrow(SafetensorsFormatError);
    const huge = new Uint8Array(16);
    new DataView(huge.buffer).setBigUint64(0, 1n << 40n, true);
    expect(() => readSafetensors(huge)).toThrow(/header length out of range/);
  });
});
