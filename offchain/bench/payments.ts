// `npm run bench:payments`: vouchers verified per second on one core, the runner's native
// libsecp256k1 path against viem's recoverTypedDataAddress, on the same signed vouchers.
import { type Hex, keccak256, recoverTypedDataAddress, toHex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { paymentChannelsDomain, type Voucher, voucherTypes } from "../../sdk/protocol/typedData";
import { VoucherVerifier } from "../payments/voucherVerifier";
import { opsPerSecond, report } from "./table";

const CHAIN_ID = 31337;
const CHANNELS = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const consumer = privateKeyToAccount(generatePrivateKey());
const domain = paymentChannelsDomain(CHAIN_ID, CHANNELS);

const signed: { voucher: Voucher; signature: Hex }[] = [];
for (let i = 0; i < 256; i++) {
  const voucher: Voucher = {
    channelId: 1n,
    modelId: BigInt(1 + (i % 8)),
    cumulativeAmount: BigInt(i + 1) * 1_000n,
    cumulativeCalls: BigInt(i + 1),
    transcriptHash: keccak256(toHex(i)),
  };
  const signature = await consumer.signTypedData({
    domain,
    types: voucherTypes,
    primaryType: "Voucher",
    message: voucher,
  });
  signed.push({ voucher, signature });
}

const verifier = new VoucherVerifier(CHAIN_ID, CHANNELS);
const pick = (i: number) => signed[i % signed.length] as (typeof signed)[number];
const check = (address: string) => {
  if (address !== consumer.address) throw new Error("benchmark recovered the wrong signer");
};

const native = await opsPerSecond((i) => {
  const { voucher, signature } = pick(i);
  check(verifier.recoverSigner(voucher, signature));
});
const viem = await opsPerSecond(async (i) => {
  const { voucher, signature } = pick(i);
  check(
    await recoverTypedDataAddress({
      domain,
      types: voucherTypes,
      primaryType: "Voucher",
      message: voucher,
      signature,
    }),
  );
});

report(
  "voucher verification, one core",
  [
    {
      method: "native libsecp256k1 (runner)",
      "vouchers/s": Math.round(native),
      "vs viem": `${(native / viem).toFixed(1)}×`,
    },
    { method: "viem recoverTypedDataAddress", "vouchers/s": Math.round(viem), "vs viem": "1.0×" },
  ],
  { target: "≥ 10,000 vouchers/s" },
);
