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
  await timedRate(fn, ms / 5, checkEvery);
  return timedRate(fn, ms, checkEvery);
}

/** Calls `fn` back to back for `budgetMs` and returns calls per second (no warm-up). */
async function timedRate(fn: (i: number) => unknown, budgetMs: number, checkEvery: number): Promise<number> {
  let n = 0;
  const start = process.hrtime.bigint();
  const budget = BigInt(Math.round(budgetMs * 1e6));
  while (process.hrtime.bigint() - start < budget) {
    for (let k = 0; k < checkEvery; k++) await fn(n++);
  }
  return n / (Number(process.hrtime.bigint() - start) / 1e9);
}

/** A method's calls per second over interleaved rounds: the median, and the slowest and fastest round. */
export interface RoundRates {
  median: number;
  min: number;
  max: number;
}

/**
 * Measures several methods in `rounds` interleaved rounds (each round runs every method for
 * `msPerRound`, in an order rotated from round to round) and returns each one's rates. On a
 * shared machine whose speed drifts, this keeps the ratios between methods fair: each method
 * sees the same slow and fast spells, where back-to-back runs would give one method the slow
 * spell and another the fast one.
 */
export async function interleavedRates<Method extends string>(
  methods: Record<Method, (i: number) => unknown>,
  rounds = 5,
  msPerRound = 400,
  checkEvery = 1,
): Promise<Record<Method, RoundRates>> {
  const names = Object.keys(methods) as Method[];
  const samples = new Map<Method, number[]>(names.map((name) => [name, []]));
  for (const name of names) await opsPerSecond(methods[name], msPerRound, checkEvery); // warm-up
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(round + k) % names.length] as Method;
      samples.get(name)?.push(await timedRate(methods[name], msPerRound, checkEvery));
    }
  }
  return Object.fromEntries(
    names.map((name): [Method, RoundRates] => {
      const sorted = (samples.get(name) as number[]).sort((a, b) => a - b);
      return [
        name,
        {
          median: sorted[Math.floor(sorted.length / 2)] as number,
          min: sorted[0] as number,
          max: sorted[sorted.length - 1] as number,
        },
      ];
    }),
  ) as Record<Method, RoundRates>;
}
