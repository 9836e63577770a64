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

/**
 * Runs `fn` for about `ms` milliseconds, after a warm-up of a fifth of that, and returns
 * calls per second. The clock is read every `checkEvery` calls.
 */
export async function opsPerSecond(
  fn: (i: number) => unknown,
  ms = 1_500,
  checkEvery = 100,
): Promise<number> {
  const run = async (budgetMs: number) => {
    let n = 0;
    const start = process.hrtime.bigint();
    const budget = BigInt(Math.round(budgetMs * 1e6));
    while (process.hrtime.bigint() - start < budget) {
      for (let k = 0; k < checkEvery; k++) await fn(n++);
    }
    return n / (Number(process.hrtime.bigint() - start) / 1e9);
  };
  await run(ms / 5);
  return run(ms);
}
