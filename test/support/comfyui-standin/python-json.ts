/**
 * Python's json.dumps with default arguments (separators ", " and ": ",
 * ensure_ascii), which is how ComfyUI serialises the `prompt` and extra_pnginfo
 * text chunks and its JSON responses. The stand-in uses it so that the bytes
 * it writes into PNGs are the bytes ComfyUI would write. Tests only.
 */
export function pythonJsonDumps(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : Number.isFinite(value) ? pyFloat(value) : value > 0 ? "Infinity" : Number.isNaN(value) ? "NaN" : "-Infinity";
  if (typeof value === "string") return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  if (Array.isArray(value)) return `[${value.map(pythonJsonDumps).join(", ")}]`;
  return `{${Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${pythonJsonDumps(k)}: ${pythonJsonDumps(v)}`)
    .join(", ")}}`;
}

function pyFloat(n: number): string {
  const s = String(n);
  return /e/.test(s) ? s.replace(/e([+-])(\d)$/, "e$10$2") : s;
}
