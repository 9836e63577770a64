import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, loadRunnerConfig, settlementConfirmations } from "./config";

const dir = mkdtempSync(path.join(os.tmpdir(), "openlora-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const KEY = `0x${"ab".repeat(32)}`;

describe("loadRunnerConfig", () => {
  it("applies defaults, then the file, then the environment, then flags", () => {
    const file = path.join(dir, "runner.json");
    writeFileSync(file, JSON.stringify({ port: 9000, batch: { maxBatch: 16 }, models: [1, 2] }));
    const config = loadRunnerConfig({
      file,
      env: { OPENLORA_RUNNER_KEY: KEY, OPENLORA_PORT: "9100", OPENLORA_BATCH__MAX_WAIT_MS: "5", HOME: "/x" },
      flags: { port: 9200 },
    });
    expect(config.port).toBe(9200);
    expect(config.batch).toEqual({ maxBatch: 16, maxWaitMs: 5, maxQueue: 2048 });
    expect(config.models).toEqual([1n, 2n]);
    expect(config.rpcUrl).toBe("http://127.0.0.1:8545");
    expect(config.settlement.intervalMs).toBe(600_000);
  });

  it("serves use-lite unless told, lande by OPENLORA_BASE or a flag, and refuses another base by name", () => {
    expect(loadRunnerConfig({ env: { OPENLORA_RUNNER_KEY: KEY } }).base).toBe("use-lite");
    const env = { OPENLORA_RUNNER_KEY: KEY, OPENLORA_BASE: "lande" };
    expect(loadRunnerConfig({ env }).base).toBe("lande");
    expect(loadRunnerConfig({ env, flags: { base: "use-lite" } }).base).toBe("use-lite");
    expect(() => loadRunnerConfig({ env, flags: { base: "bert" } })).toThrow(/base: .*"lande".*"use-lite"/);
  });

  it("reads the settlement policy from the environment and refuses a bad value by name", () => {
    const env = {
      OPENLORA_RUNNER_KEY: KEY,
      OPENLORA_SETTLEMENT__INTERVAL_MS: "300000",
      OPENLORA_SETTLEMENT__MAX_AGE_MS: "1800000",
      OPENLORA_SETTLEMENT__MAX_VALUE: "5000000",
      OPENLORA_SETTLEMENT__CLOSE_MARGIN_MS: "120000",
      OPENLORA_SETTLEMENT__GAS_WORTH_MULTIPLE: "1.5",
      OPENLORA_SETTLEMENT__NATIVE_TOKEN_PRICE: "3000000000",
      OPENLORA_SETTLEMENT__POLL_MS: "1000",
    };
    expect(loadRunnerConfig({ env }).settlement).toMatchObject({
      intervalMs: 300_000,
      maxAgeMs: 1_800_000,
      maxCalls: 100_000,
      maxValue: 5_000_000n,
      closeMarginMs: 120_000,
      laneGas: 40_000n,
      gasWorthMultiple: 1.5,
      nativeTokenPrice: 3_000_000_000n,
      pollMs: 1_000,
    });
    const defaults = loadRunnerConfig({ env: { OPENLORA_RUNNER_KEY: KEY } }).settlement;
    expect([defaults.maxAgeMs, defaults.maxValue, defaults.nativeTokenPrice]).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
    expect(() => loadRunnerConfig({ env: { ...env, OPENLORA_SETTLEMENT__MAX_VALUE: "-1" } })).toThrow(
      /settlement\.maxValue: /,
    );
  });

  it("reads megabyte settings from the environment", () => {
    const env = {
      OPENLORA_RUNNER_KEY: KEY,
      OPENLORA_CACHE__BUDGET_MB: "64",
      OPENLORA_SETTLEMENT__COMPACT_JOURNAL_MB: "4",
    };
    const config = loadRunnerConfig({ env });
    expect([config.cache.budgetMB, config.settlement.compactJournalMB]).toEqual([64, 4]);
  });

  it("chooses how adapters are served: auto by default, native or graph when told, nothing else", () => {
    expect(loadRunnerConfig({ env: { OPENLORA_RUNNER_KEY: KEY } }).loraKernel).toBe("auto");
    const env = { OPENLORA_RUNNER_KEY: KEY, OPENLORA_LORA_KERNEL: "graph" };
    expect(loadRunnerConfig({ env }).loraKernel).toBe("graph");
    expect(() => loadRunnerConfig({ env: { ...env, OPENLORA_LORA_KERNEL: "cuda" } })).toThrow(
      /loraKernel: .*"auto".*"native".*"graph"/,
    );
  });

  it("runs use-lite on the inference thread unless told false, and refuses anything but true or false", () => {
    expect(loadRunnerConfig({ env: { OPENLORA_RUNNER_KEY: KEY } }).inferenceThread).toBe(true);
    const env = { OPENLORA_RUNNER_KEY: KEY, OPENLORA_INFERENCE_THREAD: "false" };
    expect(loadRunnerConfig({ env }).inferenceThread).toBe(false);
    expect(loadRunnerConfig({ env, flags: { inferenceThread: true } }).inferenceThread).toBe(true);
    const file = path.join(dir, "thread.json");
    writeFileSync(file, JSON.stringify({ inferenceThread: false }));
    expect(loadRunnerConfig({ file, env: { OPENLORA_RUNNER_KEY: KEY } }).inferenceThread).toBe(false);
    expect(() => loadRunnerConfig({ env: { ...env, OPENLORA_INFERENCE_THREAD: "off" } })).toThrow(
      /inferenceThread: must be true or false/,
    );
  });

  it("waits one block on top of a settlement, none on a local dev chain, unless configured", () => {
    expect(settlementConfirmations(undefined, 1)).toBe(1);
    expect(settlementConfirmations(undefined, 31337)).toBe(0);
    expect(settlementConfirmations(3, 31337)).toBe(3);
    const env = { OPENLORA_RUNNER_KEY: KEY, OPENLORA_SETTLEMENT__CONFIRMATIONS: "0" };
    expect(loadRunnerConfig({ env }).settlement.confirmations).toBe(0);
    expect(loadRunnerConfig({ env: { OPENLORA_RUNNER_KEY: KEY } }).settlement.confirmations).toBeUndefined();
  });

  it("names every invalid setting and how to fix the key", () => {
    try {
      loadRunnerConfig({ env: { OPENLORA_PORT: "70000", OPENLORA_RPC_URL: "not a url" } });
      throw new Error("accepted an invalid config");
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const message = (error as Error).message;
      expect(message).toMatch(/privateKey: .*\(set OPENLORA_RUNNER_KEY\)/);
      expect(message).toMatch(/port: /);
      expect(message).toMatch(/rpcUrl: must be an http\(s\) URL/);
    }
  });

  it("reports an unreadable config file", () => {
    expect(() =>
      loadRunnerConfig({ file: path.join(dir, "missing.json"), env: { OPENLORA_RUNNER_KEY: KEY } }),
    ).toThrow(/config file .*missing\.json/);
  });
});
