// What `npm ci` and every npm command do in this project: npm prints no warning about the
// project's own settings, and onnxruntime-node's install script (a CUDA download that fails
// offline) stays blocked by package.json's allowScripts, the npm 11 way.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

describe("npm in this project", () => {
  it("runs without a warning about the project's npm config", () => {
    const run = spawnSync("npm", ["config", "get", "loglevel"], { encoding: "utf8" });
    expect(run.status).toBe(0);
    expect(run.stderr).not.toMatch(/Unknown project config/);
  });

  it("blocks onnxruntime-node's install script", () => {
    const pkg = JSON.parse(readFileSync("package.json", "utf8")) as {
      allowScripts?: Record<string, boolean>;
    };
    expect(pkg.allowScripts?.["onnxruntime-node"]).toBe(false);
  });
});
