import { appendFileSync, cpSync, mkdtempSync, rmSync, truncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { BaseModelSourceError } from "../../errors";
import { floatTensor, loadUseLiteSource, readUseLiteSource, useLiteDirectory } from "./source";

const folders: string[] = [];

/** A copy of the installed package (dist/ and package.json) to tamper with. */
function packageCopy(): string {
  const root = mkdtempSync(join(tmpdir(), "use-lite-"));
  folders.push(root);
  cpSync(dirname(useLiteDirectory()), root, { recursive: true });
  return join(root, "dist");
}

function refusal(dir: string): BaseModelSourceError {
  try {
    readUseLiteSource(dir);
  } catch (error) {
    if (error instanceof BaseModelSourceError) return error;
    throw error;
  }
  throw new Error("the tampered package was accepted");
}

afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

describe("USE-lite source", () => {
  it("reads the installed package: 0.2.0, 8,000 pieces, the 8002 × 256 embedding table", () => {
    const source = loadUseLiteSource();
    expect(source.version).toBe("0.2.0");
    expect(source.vocabulary).toHaveLength(8_000);
    expect(floatTensor(source, "module/Embeddings_en", [8002, 256])).toHaveLength(8002 * 256);
    expect(() => floatTensor(source, "module/Embeddings_en", [256, 8002])).toThrow(BaseModelSourceError);
  });

  it("refuses a model.json or vocab.json other than the pinned ones, naming the file", () => {
    const dir = packageCopy();
    appendFileSync(join(dir, "model.json"), " ");
    expect(refusal(dir).details).toMatchObject({ file: "model.json" });
    const other = packageCopy();
    appendFileSync(join(other, "vocab.json"), "\n");
    expect(refusal(other).details).toMatchObject({ file: "vocab.json" });
  });

  it("refuses shards that do not hold exactly the manifest's weights", () => {
    const dir = packageCopy();
    truncateSync(join(dir, "group1-shard7of7"), 1_000);
    expect(refusal(dir).message).toBe("USE-lite shards too short");
    const longer = packageCopy();
    appendFileSync(join(longer, "group1-shard7of7"), Buffer.alloc(4));
    expect(refusal(longer).message).toBe("USE-lite shards longer than the manifest");
  });
});
