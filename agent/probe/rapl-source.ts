import { probeRapl, raplDeltaJoules, readRapl, type RaplDomain, type RaplReading } from "./rapl.ts";
import type { PowerReading, PowerSource } from "./power-source-types.ts";

/**
 * Power source over RAPL package counters (CPU package only: not GPU, disks or
 * power-supply loss). Readings carry the raw counters; watts are derived from
 * the difference with the previous read.
 */
export type RaplSourceResult = { ok: true; source: PowerSource } | { ok: false; reason: string };

export async function createRaplSource(options: { root?: string; now?: () => number } = {}): Promise<RaplSourceResult> {
  const now = options.now ?? Date.now;
  const probe = await probeRapl(options.root);
  if (!probe.ok) return probe;
  const domains: RaplDomain[] = probe.domains;
  let prev: { tMs: number; readings: RaplReading[] } | null = null;
  return {
    ok: true,
    source: {
      kind: "rapl",
      description: `RAPL: ${domains.map((d) => d.name).join(", ")}`,
      async read(): Promise<PowerReading> {
        const tMs = now();
        let readings: RaplReading[];
        try {
          readings = await readRapl(domains);
        } catch {
          return { tMs, watts: null, counters: null, vramBytes: null };
        }
        const watts =
          prev !== null && tMs > prev.tMs ? raplDeltaJoules(domains, prev.readings, readings) / ((tMs - prev.tMs) / 1000) : null;
        prev = { tMs, readings };
        return {
          tMs,
          watts,
          counters: readings.map((r) => ({
            id: `rapl:${r.id}`,
            value: r.energyUj,
            maxRange: (domains.find((d) => d.id === r.id) as RaplDomain).maxEnergyRangeUj,
            joulesPerUnit: 1e-6,
          })),
          vramBytes: null,
        };
      },
      async close(): Promise<void> {},
    },
  };
}
