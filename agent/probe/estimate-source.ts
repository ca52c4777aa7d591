import {
  checkEstimateConfig,
  createCpuUtilisationMeter,
  DEFAULT_CPU_ESTIMATE,
  estimateWatts,
  type EstimateConfig,
} from "./estimate.ts";
import type { PowerReading, PowerSource } from "./power-source-types.ts";

/** The last-resort source: configured (or default, guessed) watts scaled by CPU utilisation. */
export async function createEstimateSource(
  options: { config?: EstimateConfig; procStatPath?: string; now?: () => number } = {},
): Promise<PowerSource> {
  const config = checkEstimateConfig(options.config ?? DEFAULT_CPU_ESTIMATE);
  const now = options.now ?? Date.now;
  const cpu = await createCpuUtilisationMeter(options.procStatPath);
  let lastUtil = 0;
  return {
    kind: "estimate",
    description: `estimate: ${config.idleWatts} W idle to ${config.maxWatts} W busy x CPU utilisation (${cpu.basis})${
      options.config === undefined ? ", default figures (a guess)" : ""
    }`,
    async read(): Promise<PowerReading> {
      const u = await cpu.read();
      if (u !== null) lastUtil = u;
      return {
        tMs: now(),
        watts: estimateWatts(config, lastUtil),
        counters: null,
        vramBytes: null,
        utilisationPercent: Math.min(100, Math.max(0, lastUtil * 100)),
        powerLimitWatts: config.maxWatts,
      };
    },
    async close(): Promise<void> {},
  };
}
