/**
 * One byte sequence per JSON value, so that a signature over a manifest still
 * checks after the manifest was parsed and printed again: object keys sorted
 * by code unit, no whitespace, numbers and strings as JSON.stringify writes
 * them (ECMAScript number formatting, as RFC 8785 JCS also uses).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") {
    if (typeof value === "number" && !Number.isFinite(value)) throw new RangeError("canonical JSON: non-finite number");
    const text = JSON.stringify(value);
    if (text === undefined) throw new TypeError(`canonical JSON: cannot encode ${typeof value}`);
    return text;
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}
