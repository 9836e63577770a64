// `npm run bench:payments`: vouchers verified per second on one core, the runner's native path
// (on our addon over the system's libsecp256k1, and on the npm packages' bindings it falls back
// to) against viem's recoverTypedDataAddress, on the same signed vouchers; and
// PAYMENT-SIGNATURE headers decoded per second, by the hand check the runner uses against the
// zod schema alone; and what a runner signs and hashes besides: receipt signatures on each
// backend, settlement transactions on its native account against viem's, and a 5,000-receipt
// batch's Merkle tree as the runner builds it against the SDK's tree of hex nodes.
import { type Hex, keccak256, parseGwei, recoverTypedDataAddress, toHex } from "viem";
import { generatePrivateKey, type PrivateKeyAccount, privateKeyToAccount } from "viem/accounts";
import { MerkleTree } from "../../sdk/protocol/merkle";
import { paymentChannelsDomain, type Voucher, voucherTypes } from "../../sdk/protocol/typedData";
import {
  decodePaymentPayload,
  encodeHeader,
  type PaymentTerms,
  paymentPayload,
  paymentPayloadSchema,
} from "../../sdk/protocol/x402";
import { nativeSigningAccount } from "../crypto/nativeAccount";
import {
  type CryptoBackend,
  cryptoBackend,
  loadAddonBackend,
  loadPackagesBackend,
} from "../crypto/nativeBackend";
import { keccak256HexNative } from "../payments/nativeHashes";
import { VoucherVerifier } from "../payments/voucherVerifier";
import { ReceiptTree } from "../runner/settlement/receiptTree";
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

const pick = (i: number) => signed[i % signed.length] as (typeof signed)[number];
const check = (address: string) => {
  if (address !== consumer.address) throw new Error("benchmark recovered the wrong signer");
};

const vouchersPerSecond = (verifier: VoucherVerifier) =>
  opsPerSecond((i) => {
    const { voucher, signature } = pick(i);
    check(verifier.recoverSigner(voucher, signature));
  });
const addon = loadAddonBackend();
const onAddon = addon && (await vouchersPerSecond(new VoucherVerifier(CHAIN_ID, CHANNELS, addon)));
const onPackages = await vouchersPerSecond(new VoucherVerifier(CHAIN_ID, CHANNELS, loadPackagesBackend()));
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

// The header a consumer sends with each call: the runner's terms (with the lane it offered) and
// the voucher. Both decoders start from the same base64 text.
const terms: PaymentTerms = {
  scheme: "openlora-channel",
  network: `eip155:${CHAIN_ID}`,
  amount: 1_000n,
  asset: CHANNELS,
  payTo: consumer.address,
  maxTimeoutSeconds: 60,
  extra: {
    paymentChannels: CHANNELS,
    settlement: CHANNELS,
    modelId: 1n,
    adapterHash: keccak256(toHex("adapter")),
    lane: {
      channelId: 1n,
      cumulativeAmount: 1_000n,
      cumulativeCalls: 1n,
      transcriptHash: keccak256(toHex(0)),
    },
  },
};
const headers = signed.map(({ voucher, signature }) =>
  encodeHeader(paymentPayload(terms, voucher, keccak256(toHex("request")), signature)),
);
const header = (i: number) => headers[i % headers.length] as string;
const decoded = await opsPerSecond((i) => decodePaymentPayload(header(i)).payload.voucher);
const bySchema = await opsPerSecond(
  (i) =>
    paymentPayloadSchema.parse(JSON.parse(Buffer.from(header(i), "base64").toString("utf8"))).payload.voucher,
);

report("PAYMENT-SIGNATURE headers decoded, one core", [
  {
    method: "hand check, the schema for the rest (runner)",
    "headers/s": Math.round(decoded),
    "vs schema": `${(decoded / bySchema).toFixed(1)}×`,
  },
  { method: "zod schema alone", "headers/s": Math.round(bySchema), "vs schema": "1.0×" },
]);

const row = (method: string, perSecond: number) => ({
  method,
  "vouchers/s": Math.round(perSecond),
  "vs viem": `${(perSecond / viem).toFixed(1)}×`,
});
report(
  "voucher verification, one core",
  [
    ...(onAddon ? [row("addon on the system's libsecp256k1 (runner)", onAddon)] : []),
    row(
      addon ? "npm packages' bindings (fallback)" : "npm packages' bindings (runner: addon not built)",
      onPackages,
    ),
    row("viem recoverTypedDataAddress", viem),
  ],
  { target: "≥ 10,000 vouchers/s" },
);

// What else a runner signs and hashes: a receipt per call (on the signature thread), and per
// settlement a transaction and a Merkle tree (on the event loop).
const digests = Array.from({ length: 256 }, (_, i) => keccak256(toHex(`receipt ${i}`), "bytes"));
const runnerKey = generatePrivateKey();
const signsPerSecond = (backend: CryptoBackend) => {
  const key = Buffer.from(runnerKey.slice(2), "hex");
  return opsPerSecond((i) => backend.sign(digests[i % digests.length] as Uint8Array, key));
};
const onAddonSigns = addon && (await signsPerSecond(addon));
const onPackagesSigns = await signsPerSecond(loadPackagesBackend());
// A settlement of 32 lanes: about 6 KB of calldata.
const settleTransaction = {
  type: "eip1559" as const,
  chainId: CHAIN_ID,
  to: CHANNELS as Hex,
  data: toHex(new Uint8Array(6_000).fill(0x5a)),
  gas: 900_000n,
  maxFeePerGas: parseGwei("2"),
  maxPriorityFeePerGas: parseGwei("1"),
};
const txPerSecond = (account: PrivateKeyAccount) =>
  opsPerSecond((i) => account.signTransaction({ ...settleTransaction, nonce: i }), 1_500, 10);
const nativeTx = await txPerSecond(nativeSigningAccount(runnerKey));
const viemTx = await txPerSecond(privateKeyToAccount(runnerKey));
const leaves = Array.from({ length: 5_000 }, (_, i) => keccak256(toHex(`leaf ${i}`)));
const receiptTrees = await opsPerSecond(() => ReceiptTree.build(leaves), 1_500, 1);
const hexTrees = await opsPerSecond(() => new MerkleTree(leaves, keccak256HexNative), 1_500, 1);
const viemTrees = await opsPerSecond(() => new MerkleTree(leaves), 1_500, 1);
const perSecond = (what: string, method: string, rate: number) => ({
  what,
  method,
  "per second": Math.round(rate),
  "ms each": Number((1_000 / rate).toFixed(3)),
});
const RECEIPT = "receipt digest signed (secp256k1)";
const TREE = "Merkle tree of 5,000 receipts";
report("what a runner signs and hashes besides vouchers, one core", [
  ...(onAddonSigns ? [perSecond(RECEIPT, "addon (runner)", onAddonSigns)] : []),
  perSecond(RECEIPT, addon ? "npm packages (fallback)" : "npm packages (runner)", onPackagesSigns),
  perSecond("settlement transaction", "native account (runner)", nativeTx),
  perSecond("settlement transaction", "viem's private-key account", viemTx),
  perSecond(TREE, `bytes, a level per call (runner, ${cryptoBackend.name})`, receiptTrees),
  perSecond(TREE, "hex nodes, native keccak per pair", hexTrees),
  perSecond(TREE, "hex nodes, viem's keccak (the SDK's default)", viemTrees),
]);
