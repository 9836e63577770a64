/**
 * Dates as a person reads them: "2026-12-13 01:53 UTC (in 7 days)", never a unix timestamp or an
 * ISO string whose day is easy to miss. The relative part is counted from the chain's time, which
 * is what decides (a devnet's clock may run ahead of this machine's).
 */

const UNITS: [string, number][] = [
  ["day", 86_400],
  ["hour", 3_600],
  ["minute", 60],
  ["second", 1],
];

/** "7 days", "3 hours", "1 minute": the largest whole unit of a span of seconds. */
export function span(seconds: number): string {
  const abs = Math.abs(seconds);
  for (const [name, size] of UNITS) {
    const n = Math.floor(abs / size);
    if (n >= 1) return `${n} ${name}${n === 1 ? "" : "s"}`;
  }
  return "0 seconds";
}

/** `at` (unix seconds) as a UTC date-time, with how far it is from `now` (unix seconds). */
export function formatDate(at: bigint, now: bigint): string {
  const iso = new Date(Number(at) * 1000).toISOString();
  const when = `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
  const delta = Number(at - now);
  if (delta === 0) return `${when} (now)`;
  return delta > 0 ? `${when} (in ${span(delta)})` : `${when} (${span(delta)} ago)`;
}
