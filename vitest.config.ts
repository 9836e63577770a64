import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["{offchain,sdk,test,tools}/**/*.test.ts"],
    // Tests start real anvil nodes and onnxruntime sessions: processes, not threads.
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
