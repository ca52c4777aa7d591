import { BadInputError } from "../../shared/errors.ts";
import { parseByteSize } from "../../shared/job-spec/byte-size.ts";

/** The asset cache's cap when the agent's config names none: room for a few large models. */
export const DEFAULT_CACHE_BYTES = 20 * 1024 ** 3;

/** `cacheSize` from the agent's config or `--cache-size` ("20GiB", "512MiB") in bytes; BadInputError naming the field. */
export function parseCacheSize(text: string | number | undefined, field = "cacheSize"): number {
  if (text === undefined) return DEFAULT_CACHE_BYTES;
  if (typeof text === "number") {
    if (Number.isSafeInteger(text) && text > 0) return text;
    throw new BadInputError(`${field}: expected a positive number of bytes or a size like '20GiB', got ${text}`, { field });
  }
  const parsed = parseByteSize(text);
  if (!parsed.ok) throw new BadInputError(`${field}: ${parsed.problem}`, { field });
  if (parsed.bytes <= 0) throw new BadInputError(`${field}: must be more than 0`, { field });
  return parsed.bytes;
}
