/**
 * One byte sequence per JSON value, so that a signature over a manifest still
 * checks after the manifest was parsed and printed again: object keys sorted
 * by code unit, no whitespace, numbers and strings as JSON.stringify writes
 * them (ECMAScript number formatting, as RFC 8785 JCS also uses).
 *
 * `shared` (optional) remembers the text of every object and array it has
 * written, by identity: the frame records of one chunk share their job,
 * steps, agent and accounting objects, so each is written once per chunk.
 * Only for values that are not changed while the cache is in use.
 */
export function canonicalJson(value: unknown, shared?: WeakMap<object, string>): string {
  if (value === null || typeof value !== "object") {
    if (typeof value === "number" && !Number.isFinite(value)) throw new RangeError("canonical JSON: non-finite number");
    const text = JSON.stringify(value);
    if (text === undefined) throw new TypeError(`canonical JSON: cannot encode ${typeof value}`);
    return text;
  }
  const known = shared?.get(value);
  if (known !== undefined) return known;
  let text: string;
  if (Array.isArray(value)) text = `[${value.map((v) => canonicalJson(v, shared)).join(",")}]`;
  else {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    text = `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v, shared)}`).join(",")}}`;
  }
  shared?.set(value, text);
  return text;
}
