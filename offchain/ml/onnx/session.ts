/** onnxruntime-node sessions for our graphs (CPU, deterministic single-threaded by default). */
import * as ort from "onnxruntime-node";
import { ADAPTER_INPUTS, INPUT_FEATURES, OUTPUT_PROBABILITIES } from "./baseGraph";

export async function createSession(model: Uint8Array, threads = 1): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(model, {
    executionProviders: ["cpu"],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
  });
}

async function probabilities(
  session: ort.InferenceSession,
  feeds: Record<string, ort.Tensor>,
): Promise<Float32Array> {
  const result = await session.run(feeds);
  const output = result[OUTPUT_PROBABILITIES];
  if (!output) throw new Error(`session has no ${OUTPUT_PROBABILITIES} output`);
  return output.data as Float32Array;
}

/** Runs a base graph on a row-major [rows × dim] feature matrix; returns [rows × classes]. */
export function runBase(
  session: ort.InferenceSession,
  features: Float32Array,
  dim: number,
): Promise<Float32Array> {
  return probabilities(session, {
    [INPUT_FEATURES]: new ort.Tensor("float32", features, [features.length / dim, dim]),
  });
}

export interface AdapterFeeds {
  rank: number;
  a: Float32Array;
  b: Float32Array;
  scale: number;
  head?: { weight: Float32Array; bias: Float32Array };
}

/** Runs an adapter graph (see buildAdapterGraph) with the factors fed as inputs. */
export function runAdapter(
  session: ort.InferenceSession,
  features: Float32Array,
  dims: { d: number; k: number },
  adapter: AdapterFeeds,
): Promise<Float32Array> {
  const { d, k } = dims;
  const feeds: Record<string, ort.Tensor> = {
    [INPUT_FEATURES]: new ort.Tensor("float32", features, [features.length / d, d]),
    [ADAPTER_INPUTS.a]: new ort.Tensor("float32", adapter.a, [d, adapter.rank]),
    [ADAPTER_INPUTS.b]: new ort.Tensor("float32", adapter.b, [adapter.rank, k]),
    [ADAPTER_INPUTS.scale]: new ort.Tensor("float32", Float32Array.of(adapter.scale), [1]),
  };
  if (adapter.head) {
    const classes = adapter.head.bias.length;
    feeds[ADAPTER_INPUTS.headWeight] = new ort.Tensor("float32", adapter.head.weight, [k, classes]);
    feeds[ADAPTER_INPUTS.headBias] = new ort.Tensor("float32", adapter.head.bias, [classes]);
  }
  return probabilities(session, feeds);
}
