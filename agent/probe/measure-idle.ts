import { setTimeout as sleep } from "node:timers/promises";
import { idleWattsFromReadings } from "../../shared/accounting/idle-baseline.ts";
import type { PowerSource } from "./power-source-types.ts";

/**
 * Measures the idle baseline: reads the source for durationMs while the agent
 * runs nothing, and takes the median watts. Call it before taking work (at
 * start-up, or while the queue is empty). Null when no reading gave watts.
 */
export async function measureIdleWatts(
  source: PowerSource,
  options: { durationMs?: number; intervalMs?: number; signal?: AbortSignal } = {},
): Promise<number | null> {
  const durationMs = options.durationMs ?? 5000;
  const intervalMs = options.intervalMs ?? 250;
  const watts: number[] = [];
  const rounds = Math.max(2, Math.ceil(durationMs / intervalMs) + 1);
  for (let i = 0; i < rounds && options.signal?.aborted !== true; i += 1) {
    try {
      const r = await source.read();
      if (r.watts !== null) watts.push(r.watts);
    } catch {
      // a failed reading is just a missing one
    }
    if (i + 1 < rounds) await sleep(intervalMs, undefined, { signal: options.signal }).catch(() => undefined);
  }
  return idleWattsFromReadings(watts);
}
