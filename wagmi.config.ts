import { defineConfig } from "@wagmi/cli";
import { foundry } from "@wagmi/cli/plugins";

/** The contracts whose ABIs the SDK, the runner and the CLI use. */
const sdkContracts = [
  "TestUSD",
  "ModelRegistry",
  "CoTrainingShares",
  "ModelVault",
  "ModelVaultFactory",
  "PaymentChannels",
  "RunnerRegistry",
  "Settlement",
];

export default defineConfig({
  // tools/check-abis.ts points this elsewhere to compare a fresh generation with the committed one.
  out: process.env.OPENLORA_ABI_OUT ?? "sdk/generated/abis.ts",
  plugins: [
    foundry({
      project: ".",
      forge: { build: false, path: "tools/bin/forge" },
      include: sdkContracts.map((name) => `${name}.json`),
    }),
  ],
});
