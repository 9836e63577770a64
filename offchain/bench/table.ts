/** Prints benchmark rows as an aligned table, or as one JSON object with --json. */
export function report(
  title: string,
  rows: Record<string, string | number>[],
  extra: Record<string, unknown> = {},
) {
  if (process.argv.includes("--json")) {
    console.log(JSON.stringify({ benchmark: title, ...extra, rows }));
    return;
  }
  console.log(`\n${title}`);
  for (const [key, value] of Object.entries(extra)) console.log(`  ${key}: ${value}`);
  console.table(rows);
}

/** Runs `fn` repeatedly for about `ms` milliseconds (after a warm-up) and returns ops/second. */
export async function opsPerSecond(fn: (i: number) => unknown, ms = 1_500): Promise<number> {
  for (let i = 0; i < 200; i++) await fn(i);
  let n = 0;
  const start = process.hrtime.bigint();
  const budget = BigInt(ms) * 1_000_000n;
  while (process.hrtime.bigint() - start < budget) {
    for (let k = 0; k < 100; k++) await fn(n++);
  }
  return n / (Number(process.hrtime.bigint() - start) / 1e9);
}
