/**
 * docs/cli.md's "Done with the runner" on a devnet deployed as `openlora devnet` deploys:
 * request the close, move the clock past the 10-minute challenge period with `devnet advance`,
 * withdraw. The real CLI, as the walkthrough runs it.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEVNET_PERIODS, type Devnet, startDevnet } from "../../chain/devnet";
import { chainFlags, runCli } from "./cliHarness";

const dir = mkdtempSync(join(tmpdir(), "openlora-cli-close-"));
let devnet: Devnet;
let chain: string[];

beforeAll(async () => {
  devnet = await startDevnet({
    accounts: 3,
    env: { CHALLENGE_PERIOD: String(DEVNET_PERIODS.CHALLENGE_PERIOD) },
  });
  chain = chainFlags(devnet, dir);
});

afterAll(async () => {
  await devnet?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const cli = (account: number, ...args: string[]) =>
  runCli(["--json", ...args, ...chain, "--dev-account", String(account)]);
const state = async (id: string) =>
  ((await cli(1, "channel", "show", id)).json() as { channel: { state: string } }).channel.state;

describe("closing a channel on a devnet", () => {
  it("is closable after devnet advance --time 10m, and withdraws the rest", async () => {
    const runner = devnet.accounts[2]?.address as string;
    const registered = await cli(
      2,
      "runner",
      "register",
      "--endpoint",
      "http://127.0.0.1:8080",
      "--fee-bps",
      "500",
    );
    expect(registered.code).toBe(0);
    const opened = await cli(1, "channel", "open", "--runner", runner, "--amount", "10");
    expect(opened.code).toBe(0);
    const id = String(opened.json().channelId);

    expect((await cli(1, "channel", "close", id)).code).toBe(0);
    expect(await state(id)).toBe("closing");
    const early = await cli(1, "channel", "withdraw", id);
    expect(early.code).toBe(4);

    const advance = await runCli(["devnet", "advance", "--time", "10m", "--rpc", devnet.rpcUrl]);
    expect(advance.code).toBe(0);
    expect(await state(id)).toBe("closable");
    const withdrawn = await cli(1, "channel", "withdraw", id);
    expect(withdrawn.code).toBe(0);
    expect(withdrawn.json()).toMatchObject({ amount: "10000000", paid: "0" });
  });
});
