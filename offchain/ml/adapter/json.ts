/**
 * JSON text for manifests: two-space indentation like `JSON.stringify(value, null, 2)`, but
 * arrays of scalars (and arrays of such arrays, e.g. confusion matrices) on one line when
 * they fit, which is how the repository's formatter (Biome) lays them out: committed
 * manifests stay byte-identical after `npm run format`.
 */
const LINE_WIDTH = 110;

function isScalar(value: unknown): boolean {
  return value === null || ["number", "string", "boolean"].includes(typeof value);
}

function isFlat(value: unknown): boolean {
  return isScalar(value) || (Array.isArray(value) && value.every(isScalar));
}

function inline(value: unknown[]): string {
  return `[${value.map((v) => (Array.isArray(v) ? inline(v) : JSON.stringify(v))).join(", ")}]`;
}

function format(value: unknown, indent: string, prefixLength: number): string {
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    const compact = inline(value);
    if (value.every(isFlat) && prefixLength + compact.length + 1 <= LINE_WIDTH) return compact;
    const inner = `${indent}  `;
    return `[\n${value.map((v) => inner + format(v, inner, inner.length)).join(",\n")}\n${indent}]`;
  }
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return "{}";
    const inner = `${indent}  `;
    const lines = entries.map(([key, v]) => {
      const head = `${inner}${JSON.stringify(key)}: `;
      return head + format(v, inner, head.length);
    });
    return `{\n${lines.join(",\n")}\n${indent}}`;
  }
  return JSON.stringify(value);
}

export function formatJson(value: unknown): string {
  return `${format(value, "", 0)}\n`;
}
