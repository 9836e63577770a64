import { describe, expect, it } from "vitest";
import { SafetensorsFormatError } from "../errors";
import { UnsupportedDtypeError } from "./errors";
import { decodeSafetensors, encodeSafetensors } from "./safetensors";

function withHeader(json: string, data: Uint8Array): Uint8Array {
  const text = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  return out;
}

function headerOf(bytes: Uint8Array): Record<string, unknown> {
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length)));
}

const TENSORS = {
  "z.b": { shape: [3], data: Float32Array.of(1.5, -2, 0.333251953125) },
  "a.a": { shape: [2, 2], data: Float32Array.of(0.5, 0.25, -1, 3.140625) },
};

describe("peft safetensors", () => {
  it("round-trips F32, F16 and BF16 files to float32 values, sorted, with string metadata", () => {
    for (const dtype of ["F32", "F16", "BF16"] as const) {
      const bytes = encodeSafetensors(TENSORS, { k: "v", a: "b" }, dtype);
      const file = decodeSafetensors(bytes);
      expect(file.metadata).toEqual({ a: "b", k: "v" });
      expect([...file.tensors.keys()]).toEqual(["a.a", "z.b"]);
      expect(file.tensors.get("a.a")).toEqual({ dtype, shape: [2, 2], data: TENSORS["a.a"].data });
      const expectedZ = dtype === "BF16" ? Float32Array.of(1.5, -2, 0.333984375) : TENSORS["z.b"].data;
      expect(file.tensors.get("z.b")?.data).toEqual(expectedZ);
    }
  });

  it("decodes F32 tensors into copies, at any offset of the bytes it is given, apart from the input", () => {
    const values = Float32Array.of(1.5, -2.25, Number.MIN_VALUE, 3.4e38, -0);
    const file = encodeSafetensors({ x: { shape: [5], data: values } });
    // The file at an odd offset of a larger buffer, as a pooled Buffer may hold it.
    const backing = new Uint8Array(file.length + 3);
    backing.set(file, 3);
    const bytes = backing.subarray(3);
    const decoded = decodeSafetensors(bytes).tensors.get("x")?.data as Float32Array;
    expect(Array.from(decoded)).toEqual(Array.from(values));
    expect(Object.is(decoded[4], -0)).toBe(true);
    backing.fill(0);
    expect(Array.from(decoded)).toEqual(Array.from(values));
  });

  it("lays out the header as the format says: 8-aligned, sorted keys, offsets by dtype size", () => {
    const bytes = encodeSafetensors(TENSORS, {}, "F16");
    const length = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(length % 8).toBe(0);
    expect(headerOf(bytes)).toEqual({
      "a.a": { dtype: "F16", shape: [2, 2], data_offsets: [0, 8] },
      "z.b": { dtype: "F16", shape: [3], data_offsets: [8, 14] },
    });
    expect(bytes.length).toBe(8 + length + 14);
    // 1.5 in F16 is 0x3e00, little-endian after the 4 values of a.a.
    expect([bytes[8 + length + 8], bytes[8 + length + 9]]).toEqual([0x00, 0x3e]);
  });

  it("writes the same bytes whatever the insertion order", () => {
    const reversed = { "a.a": TENSORS["a.a"], "z.b": TENSORS["z.b"] };
    expect(Buffer.from(encodeSafetensors(TENSORS, { x: "1", y: "2" }))).toEqual(
      Buffer.from(encodeSafetensors(reversed, { y: "2", x: "1" })),
    );
  });

  it("refuses other dtypes with UnsupportedDtypeError naming the tensor", () => {
    for (const dtype of ["F64", "I64", "U8", "BOOL", "F8_E4M3", "I32"]) {
      const bytes = withHeader(
        `{"w":{"dtype":"${dtype}","shape":[1],"data_offsets":[0,8]}}`,
        new Uint8Array(8),
      );
      expect(() => decodeSafetensors(bytes)).toThrow(UnsupportedDtypeError);
      expect(() => decodeSafetensors(bytes)).toThrow(/tensor w: dtype/);
    }
  });

  it("refuses truncated, padded, overlapping and malformed files", () => {
    const good = encodeSafetensors(TENSORS);
    const data = new Uint8Array(8);
    const bad: [string, Uint8Array][] = [
      ["shorter than 8 bytes", new Uint8Array(4)],
      ["truncated data", good.subarray(0, good.length - 1)],
      ["truncated header", good.subarray(0, 20)],
      ["trailing byte", Uint8Array.of(...good, 0)],
      ["not JSON", withHeader("{not json", data)],
      ["not an object", withHeader("[1,2]", data)],
      ["size mismatch", withHeader('{"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', data)],
      ["gap", withHeader('{"t":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', data)],
      ["negative offset", withHeader('{"t":{"dtype":"F32","shape":[2],"data_offsets":[-1,7]}}', data)],
      ["bad shape", withHeader('{"t":{"dtype":"F32","shape":"2","data_offsets":[0,8]}}', data)],
      ["no offsets", withHeader('{"t":{"dtype":"F32","shape":[2]}}', data)],
      [
        "metadata not strings",
        withHeader('{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":{"k":1}}', data),
      ],
      [
        "overlap",
        withHeader(
          '{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"u":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
          data,
        ),
      ],
    ];
    for (const [what, bytes] of bad)
      expect(() => decodeSafetensors(bytes), what).toThrow(SafetensorsFormatError);
    const huge = new Uint8Array(16);
    new DataView(huge.buffer).setBigUint64(0, 1n << 40n, true);
    expect(() => decodeSafetensors(huge)).toThrow(/header length out of range/);
  });

  it("refuses a tensor whose data does not match its shape when writing", () => {
    expect(() => encodeSafetensors({ t: { shape: [3], data: new Float32Array(2) } })).toThrow(/tensor t/);
  });
});
