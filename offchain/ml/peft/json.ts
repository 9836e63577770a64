/** JSON with every object's keys sorted, so equal content gives equal bytes (metadata, config files). */
import { formatJson } from "../adapter/json";

export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return Object.fromEntries(entries.map(([k, v]) => [k, sortKeys(v)]));
  }
  return value;
}

/** Compact JSON with sorted keys: for safetensors `__metadata__` strings and comparisons. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

/** A JSON file with sorted keys (as PEFT writes its config) laid out as the repository's formatter does. */
export function sortedJsonFile(value: unknown): string {
  return formatJson(sortKeys(value));
}
