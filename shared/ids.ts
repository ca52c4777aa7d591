import { randomBytes } from "node:crypto";

/**
 * Sortable, unique ids: a prefix, the time in base36 (fixed width), and 6
 * random bytes. `job_l9x2k3a1_9f2c...`. Sorting by id sorts by creation time.
 * The random bytes come from a pool filled 4 KiB at a time (as Node's own
 * randomUUID does): one call into the CSPRNG per 682 ids instead of one per
 * id; every coordinator chunk makes two or more ids.
 */
const POOL_BYTES = 4096;
const ID_BYTES = 6;
let pool = Buffer.alloc(0);
let offset = 0;

function randomHex(): string {
  if (offset + ID_BYTES > pool.length) {
    pool = randomBytes(POOL_BYTES);
    offset = 0;
  }
  const hex = pool.toString("hex", offset, offset + ID_BYTES);
  offset += ID_BYTES;
  return hex;
}

export function newId(prefix: string, nowMs: number = Date.now()): string {
  const time = nowMs.toString(36).padStart(9, "0");
  return `${prefix}_${time}${randomHex()}`;
}
