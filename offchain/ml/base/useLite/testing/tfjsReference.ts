/**
 * The shipped TF.js graph run by TF.js itself on the cpu backend (dev dependencies, for the
 * parity tests and the benchmark only), fed as `@energetic-ai/embeddings` feeds it: sparse
 * (row, position) indices and token ids.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import "@tensorflow/tfjs-backend-cpu";
import { type GraphModel, loadGraphModel } from "@tensorflow/tfjs-converter";
import * as tf from "@tensorflow/tfjs-core";
import { useLiteDirectory } from "../source";

export async function loadTfjsReference(): Promise<GraphModel> {
  await tf.setBackend("cpu");
  const dir = useLiteDirectory();
  const model = JSON.parse(readFileSync(join(dir, "model.json"), "utf8"));
  const group = model.weightsManifest[0];
  const data = Buffer.concat(group.paths.map((path: string) => readFileSync(join(dir, path))));
  const weightData = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
  return loadGraphModel(
    tf.io.fromMemory({ modelTopology: model.modelTopology, weightSpecs: group.weights, weightData }),
  );
}

/** Embeddings of token id rows in one run, row-major [rows × 512] (rows without tokens last are dropped by the graph). */
export async function tfjsEmbed(
  model: GraphModel,
  rows: readonly (readonly number[])[],
): Promise<Float32Array> {
  const indices: number[] = [];
  const values: number[] = [];
  rows.forEach((row, r) => {
    row.forEach((id, p) => {
      indices.push(r, p);
      values.push(id);
    });
  });
  const feeds = {
    indices: tf.tensor2d(indices, [values.length, 2], "int32"),
    values: tf.tensor1d(values, "int32"),
  };
  const output = (await model.executeAsync(feeds)) as tf.Tensor;
  const result = (await output.data()) as Float32Array;
  tf.dispose([feeds.indices, feeds.values, output]);
  return result;
}
