import { type Hex, keccak256, toBytes } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../errors";
import {
  assembleContributors,
  consentFromJson,
  consentRequests,
  consentToJson,
  signRegistrationConsent,
  verifyRegistrationConsent,
} from "./consent";

const key = (n: number) => `0x${n.toString(16).padStart(64, "0")}` as Hex;
const registrant = privateKeyToAccount(key(1));
const alice = privateKeyToAccount(key(2));
const bob = privateKeyToAccount(key(3));
const adapterHash = keccak256(toBytes("adapter"));
const shares = "0x00000000000000000000000000000000000000aa";
const contributors = [
  { account: registrant.address, units: 50n },
  { account: alice.address, units: 30n },
  { account: bob.address, units: 20n },
];

async function signedSet() {
  const requests = consentRequests({
    chainId: 31337,
    shares,
    registrant: registrant.address,
    adapterHash,
    contributors,
  });
  return Promise.all(
    requests.map((r) => signRegistrationConsent(r.contributor === alice.address ? alice : bob, r)),
  );
}

describe("registration consent", () => {
  it("asks every contributor but the registrant, binding the total", () => {
    const requests = consentRequests({
      chainId: 31337,
      shares,
      registrant: registrant.address,
      adapterHash,
      contributors,
    });
    expect(requests.map((r) => r.contributor)).toEqual([alice.address, bob.address]);
    expect(requests.every((r) => r.totalUnits === 100n)).toBe(true);
    expect(new Set(requests.map((r) => r.nonce)).size).toBe(2);
  });

  it("assembles a list sorted by address with the registrant unsigned", async () => {
    const consents = await signedSet();
    expect(await verifyRegistrationConsent(consents[0] as (typeof consents)[0])).toBe(true);
    const list = await assembleContributors({
      registrant: registrant.address,
      adapterHash,
      contributors,
      consents,
    });
    const addresses = list.map((c) => BigInt(c.account));
    expect(addresses).toEqual([...addresses].sort((a, b) => (a < b ? -1 : 1)));
    expect(list.find((c) => c.account === registrant.address)?.signature).toBe("0x");
    expect(list.find((c) => c.account === alice.address)?.signature).toMatch(/^0x[0-9a-f]{130}$/);
  });

  it("refuses consents that do not fit: other total, other signer, missing, expired", async () => {
    const consents = await signedSet();
    const more = contributors.map((c) => (c.account === bob.address ? { ...c, units: 25n } : c));
    await expect(
      assembleContributors({ registrant: registrant.address, adapterHash, contributors: more, consents }),
    ).rejects.toThrow(/agrees to a total of 100, not 105/);
    const forged = consents.map((c) =>
      c.request.contributor === bob.address ? { ...c, signature: consents[0]?.signature as Hex } : c,
    );
    await expect(
      assembleContributors({ registrant: registrant.address, adapterHash, contributors, consents: forged }),
    ).rejects.toThrow(/signature is not the contributor's/);
    await expect(
      assembleContributors({
        registrant: registrant.address,
        adapterHash,
        contributors,
        consents: consents.slice(0, 1),
      }),
    ).rejects.toThrow(InvalidArgumentError);
    await expect(
      assembleContributors({
        registrant: registrant.address,
        adapterHash,
        contributors,
        consents,
        now: 1n << 62n,
      }),
    ).rejects.toThrow(/expired/);
  });

  it("will not sign for someone else, nor units outside the total", async () => {
    const [request] = consentRequests({
      chainId: 31337,
      shares,
      registrant: registrant.address,
      adapterHash,
      contributors,
    });
    await expect(signRegistrationConsent(bob, request as NonNullable<typeof request>)).rejects.toThrow(
      /not for the signer/,
    );
    await expect(
      signRegistrationConsent(alice, { ...(request as NonNullable<typeof request>), units: 101n }),
    ).rejects.toThrow(/between 1 and the total/);
    expect(() =>
      consentRequests({
        chainId: 1,
        shares,
        registrant: registrant.address,
        adapterHash,
        contributors: [...contributors, contributors[1] as (typeof contributors)[1]],
      }),
    ).toThrow(/listed twice/);
  });

  it("round-trips through JSON", async () => {
    const [consent] = await signedSet();
    const back = consentFromJson(
      JSON.parse(JSON.stringify(consentToJson(consent as NonNullable<typeof consent>))),
    );
    expect(back).toEqual(consent);
    expect(() =>
      consentFromJson({ ...consentToJson(consent as NonNullable<typeof consent>), units: "-1" }),
    ).toThrow(/units/);
  });
});
