import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ADAPTER_FILE } from "../ml/adapter/adapterFile";
import { ADAPTER_MODEL_FILE } from "../ml/peft/adapterModel";
import { adapterFileOf, PEFT_ADAPTER_FILE } from "./adapterSource";

const dir = mkdtempSync(path.join(tmpdir(), "openlora-adapter-source-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("adapterFileOf", () => {
  it("names PEFT's file as the PEFT loader does", () => {
    expect(PEFT_ADAPTER_FILE).toBe(ADAPTER_MODEL_FILE);
  });

  it("takes a file as it is, a PEFT directory's adapter_model.safetensors, else lande's adapter.safetensors", () => {
    const peft = path.join(dir, "peft");
    const lande = path.join(dir, "lande");
    mkdirSync(peft);
    mkdirSync(lande);
    writeFileSync(path.join(peft, PEFT_ADAPTER_FILE), "");
    writeFileSync(path.join(lande, ADAPTER_FILE), "");
    expect(adapterFileOf(path.join(lande, ADAPTER_FILE))).toBe(path.join(lande, ADAPTER_FILE));
    expect(adapterFileOf(peft)).toBe(path.join(peft, PEFT_ADAPTER_FILE));
    expect(adapterFileOf(lande)).toBe(path.join(lande, ADAPTER_FILE));
  });
});
