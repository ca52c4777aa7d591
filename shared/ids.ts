import { randomBytes } from "node:crypto";

/**
 * Sortable, unique ids: a prefix, the time in base36 (fixed width), and 8
 * random bytes. `job_l9x2k3a1_9f2c...`. Sorting by id sorts by creation time.
 */
export function newId(prefix: string, nowMs: number = Date.now()): string {
  const time = nowMs.toString(36).padStart(9, "0");
  return `${prefix}_${time}${randomBytes(6).toString("hex")}`;
}
