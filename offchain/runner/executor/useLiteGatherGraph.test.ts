import { describe, expect, it } from "vitest";
import { buildUseLiteOnnx } from "../../ml/base/useLite/graph";
import { USE_LITE_MODULE_NAMES, USE_LITE_MODULES } from "../../ml/base/useLite/modules";
import { loadUseLiteSource } from "../../ml/base/useLite/source";
import { buildUseLiteGatherGraph } from "./useLiteGatherGraph";

describe("buildUseLiteGatherGraph", () => {
  const source = loadUseLiteSource();

  it("refuses a graph without the side inputs it rewrites, naming what is missing", () => {
    const plain = buildUseLiteOnnx(source);
    expect(() => buildUseLiteGatherGraph(plain, ["pooler.dense"])).toThrow(
      "the USE-lite graph has no 2-D input pooler.dense.lora_a",
    );
    const pooler = buildUseLiteOnnx(source, { loraModules: ["pooler.dense"] });
    expect(() => buildUseLiteGatherGraph(pooler, ["encoder.layer.1.ffn.out"])).toThrow(
      "the USE-lite graph has no 2-D input encoder.layer.1.ffn.out.lora_a",
    );
  });

  it("takes each module's bias out of the graph, for the arena's last row", () => {
    const side = buildUseLiteOnnx(source, { loraModules: USE_LITE_MODULE_NAMES });
    const { biases } = buildUseLiteGatherGraph(side, USE_LITE_MODULE_NAMES);
    expect([...biases.keys()]).toEqual([...USE_LITE_MODULE_NAMES]);
    for (const [module, bias] of biases) {
      expect(bias.length).toBe(USE_LITE_MODULES[module].outputs);
      expect(bias.some((v) => v !== 0)).toBe(true);
    }
  });
});
