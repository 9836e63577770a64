/**
 * Reads the pretrained network shipped in the `lande` npm package (MIT) and decodes its
 * weights ourselves: `standalone/t50-options.js` holds toygrad's serialized layers,
 * `t50-ngrams.js` the n-gram vocabulary of the input features, `t50-langs.js` the 50
 * output languages. Each is an ES module of the form `export default <JSON>;`.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { BaseModelSourceError } from "../errors";

export interface LandeVocabulary {
  unigrams: string[];
  bigrams: string[];
  trigrams: string[];
  quadgrams: string[];
}

/** A dense layer: weights row-major [inputs × outputs] (ONNX MatMul layout) and biases. */
export interface DenseLayer {
  inputs: number;
  outputs: number;
  weights: Float32Array;
  biases: Float32Array;
}

export interface LandeNetwork {
  vocabulary: LandeVocabulary;
  languages: string[];
  hidden: DenseLayer;
  output: DenseLayer;
  /** Version of the lande package the weights came from. */
  version: string;
}

function landeDirectory(): string {
  const require = createRequire(import.meta.url);
  return dirname(require.resolve("lande"));
}

function readDefaultExport(file: string): unknown {
  const text = readFileSync(join(landeDirectory(), file), "utf8").trim();
  const prefix = "export default ";
  if (!text.startsWith(prefix) || !text.endsWith(";")) {
    throw new BaseModelSourceError("unexpected lande module layout", { file });
  }
  try {
    return JSON.parse(text.slice(prefix.length, -1));
  } catch (error) {
    throw new BaseModelSourceError("lande module is not JSON", { file, cause: String(error) });
  }
}

/**
 * Decodes one toygrad-encoded float buffer. toygrad writes `1<scale>|<base64>` for its 8-bit
 * format (value = (byte − 127) / scale) and `4<base64>` for float32 (the four bytes of each
 * float stored as four planes). lande's t50 model uses the 8-bit format throughout.
 */
export function decodeToygradBuffer(encoded: string): Float32Array {
  const separator = encoded.indexOf("|");
  if (encoded.startsWith("1") && !encoded.startsWith("1-") && separator > 1) {
    const scale = Number(encoded.slice(1, separator));
    const bytes = Buffer.from(encoded.slice(separator + 1), "base64");
    if (!(scale > 0)) throw new BaseModelSourceError("bad toygrad 8-bit scale", { scale });
    const out = new Float32Array(bytes.length);
    for (let i = 0; i < bytes.length; i++) out[i] = ((bytes[i] as number) - 127) / scale;
    return out;
  }
  if (encoded.startsWith("4")) {
    const bytes = Buffer.from(encoded.slice(1), "base64");
    const n = bytes.length / 4;
    const raw = new Uint8Array(bytes.length);
    for (let i = 0; i < n; i++) {
      for (let plane = 0; plane < 4; plane++) raw[i * 4 + plane] = bytes[plane * n + i] as number;
    }
    return new Float32Array(raw.buffer);
  }
  throw new BaseModelSourceError("unsupported toygrad encoding", { prefix: encoded.slice(0, 3) });
}

interface ToygradDense {
  type: "dense";
  filters: number;
  _biases: string;
  _filters: string[];
}

function denseLayer(layer: ToygradDense, inputs: number): DenseLayer {
  const outputs = layer.filters;
  if (layer._filters.length !== outputs) {
    throw new BaseModelSourceError("dense layer filter count mismatch", { outputs });
  }
  const biases = decodeToygradBuffer(layer._biases);
  const weights = new Float32Array(inputs * outputs);
  layer._filters.forEach((encoded, unit) => {
    const filter = decodeToygradBuffer(encoded);
    if (filter.length !== inputs) throw new BaseModelSourceError("filter length mismatch", { unit, inputs });
    // toygrad keeps one filter (row of input weights) per output unit: transpose to [in × out].
    for (let i = 0; i < inputs; i++) weights[i * outputs + unit] = filter[i] as number;
  });
  if (biases.length !== outputs) throw new BaseModelSourceError("bias length mismatch", { outputs });
  return { inputs, outputs, weights, biases };
}

let cached: LandeNetwork | undefined;

/**
 * The decoded t50 network: 620 n-gram features → 120 ReLU → 50 languages (softmax).
 * Decoded once per process unless `fresh` asks to read the package files again.
 */
export function loadLandeNetwork(fresh = false): LandeNetwork {
  if (cached && !fresh) return cached;
  const options = readDefaultExport("t50-options.js") as { layers: Array<{ type: string; sz?: number }> };
  const types = options.layers.map((layer) => layer.type).join(",");
  if (types !== "input,dense,relu,dense,softmax") {
    throw new BaseModelSourceError("unexpected lande architecture", { layers: types });
  }
  const inputSize = options.layers[0]?.sz ?? 0;
  const hidden = denseLayer(options.layers[1] as unknown as ToygradDense, inputSize);
  const output = denseLayer(options.layers[3] as unknown as ToygradDense, hidden.outputs);
  const vocabulary = readDefaultExport("t50-ngrams.js") as LandeVocabulary;
  const languages = readDefaultExport("t50-langs.js") as string[];
  const featureCount =
    vocabulary.unigrams.length +
    vocabulary.bigrams.length +
    vocabulary.trigrams.length +
    vocabulary.quadgrams.length;
  if (featureCount !== inputSize || languages.length !== output.outputs) {
    throw new BaseModelSourceError("lande vocabulary does not match its network", {
      featureCount,
      inputSize,
    });
  }
  const pkg = JSON.parse(readFileSync(join(landeDirectory(), "..", "package.json"), "utf8")) as {
    version: string;
  };
  cached = { vocabulary, languages, hidden, output, version: pkg.version };
  return cached;
}
