/**
 * A small builder for ONNX models on top of `onnx-proto` (protobufjs). Serialization is
 * deterministic: protobufjs writes fields in schema order and repeated fields in insertion
 * order, tensors are stored as little-endian `raw_data`, and nothing time- or
 * machine-dependent is written, so the same graph always gives the same bytes (and hash).
 */
import onnxProto from "onnx-proto";

const { onnx } = onnxProto;

export const ONNX_OPSET = 17;
export const ONNX_IR_VERSION = 8;

export type ElementType = "float32" | "int64";
/** A dimension: a fixed size or a symbolic name (e.g. "batch"). */
export type Dim = number | string;

const ELEMENT_TYPES: Record<ElementType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  int64: onnx.TensorProto.DataType.INT64,
};

export type AttributeValue = number | number[] | string;

export interface ModelOptions {
  producerName?: string;
  producerVersion?: string;
  docString?: string;
  /** Written as `metadata_props` in the given key order. */
  metadata?: ReadonlyArray<readonly [string, string]>;
}

function float32LittleEndian(values: Float32Array): Uint8Array {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i] as number, true);
  return bytes;
}

function int64LittleEndian(values: BigInt64Array): Uint8Array {
  const bytes = new Uint8Array(values.length * 8);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setBigInt64(i * 8, values[i] as bigint, true);
  return bytes;
}

function valueInfo(name: string, type: ElementType, dims: readonly Dim[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ELEMENT_TYPES[type],
        shape: { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, value: AttributeValue): onnxProto.onnx.IAttributeProto {
  const types = onnx.AttributeProto.AttributeType;
  if (typeof value === "string") return { name, type: types.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: types.INTS, ints: value };
  if (Number.isInteger(value)) return { name, type: types.INT, i: value };
  return { name, type: types.FLOAT, f: value };
}

export class GraphBuilder {
  private readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly names = new Set<string>();

  constructor(readonly name: string) {}

  private claim(name: string): string {
    if (this.names.has(name)) throw new Error(`duplicate ONNX value name: ${name}`);
    this.names.add(name);
    return name;
  }

  input(name: string, type: ElementType, dims: readonly Dim[]): string {
    this.inputs.push(valueInfo(this.claim(name), type, dims));
    return name;
  }

  output(name: string, type: ElementType, dims: readonly Dim[]): string {
    this.outputs.push(valueInfo(name, type, dims));
    return name;
  }

  /** A constant float tensor (weights). */
  floatTensor(name: string, values: Float32Array, dims: readonly number[]): string {
    const size = dims.reduce((a, b) => a * b, 1);
    if (size !== values.length)
      throw new Error(`tensor ${name}: ${values.length} values for shape [${dims}]`);
    this.initializers.push({
      name: this.claim(name),
      dims: [...dims],
      dataType: ELEMENT_TYPES.float32,
      rawData: float32LittleEndian(values),
    });
    return name;
  }

  /** A constant int64 tensor (shapes, axes, indices). */
  int64Tensor(name: string, values: readonly number[], dims: readonly number[] = [values.length]): string {
    this.initializers.push({
      name: this.claim(name),
      dims: [...dims],
      dataType: ELEMENT_TYPES.int64,
      rawData: int64LittleEndian(BigInt64Array.from(values, (v) => BigInt(v))),
    });
    return name;
  }

  /** Adds a node; returns its (first) output name so calls can be chained. */
  node(
    opType: string,
    inputs: readonly string[],
    output: string,
    attributes: Readonly<Record<string, AttributeValue>> = {},
  ): string {
    this.nodes.push({
      name: `${opType}:${output}`,
      opType,
      input: [...inputs],
      output: [this.claim(output)],
      attribute: Object.entries(attributes).map(([key, value]) => attribute(key, value)),
    });
    return output;
  }

  /** Serializes the model. Same graph, same options → same bytes. */
  toBytes(options: ModelOptions = {}): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: ONNX_IR_VERSION,
      producerName: options.producerName ?? "openlora",
      producerVersion: options.producerVersion ?? "1",
      docString: options.docString ?? "",
      opsetImport: [{ domain: "", version: ONNX_OPSET }],
      metadataProps: (options.metadata ?? []).map(([key, value]) => ({ key, value })),
      graph: {
        name: this.name,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}
