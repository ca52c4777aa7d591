import { z } from "zod";

/**
 * One telemetry sample, published by an agent every telemetry interval (1 s by
 * default) on <p>.telemetry.<agentId> (core NATS, fire and forget).
 *
 * Energy is sent twice: as the difference since the previous sample and as a
 * running total since the agent's telemetry session began. The coordinator
 * uses the difference of totals between the samples it did receive, so a lost
 * message loses no energy; `session` changes when the agent restarts.
 */
export const TelemetrySampleSchema = z.object({
  agentId: z.string().min(1),
  /** Random per agent process; totals and seq restart with it. */
  session: z.string().min(1),
  seq: z.number().int().min(0),
  /** When the reading was taken, ms since the epoch (agent clock). */
  tMs: z.number(),
  /** nvml | nvidia-smi | rapl | estimate (an estimate is not a measurement). */
  source: z.enum(["nvml", "nvidia-smi", "rapl", "estimate"]),
  /** Power draw of what the source measures; null when unknown this time. */
  watts: z.number().min(0).nullable(),
  /** Joules since the previous sample of this session. */
  energyJoules: z.number().min(0),
  /** Joules since the session began. */
  energyTotalJoules: z.number().min(0),
  /** counter: hardware counter difference; integrated: trapezoid of power readings; none: no figure this step. */
  energyMethod: z.enum(["counter", "integrated", "none"]),
  /** GPU memory held by the agent's own processes; null when the source cannot see it (CPU agents). */
  vramBytes: z.number().min(0).nullable(),
  /** Resident memory of the agent process. */
  ramBytes: z.number().min(0),
  /** 0-100: GPU utilisation, or CPU utilisation for the estimate; null when unknown. */
  utilisationPercent: z.number().min(0).max(100).nullable(),
  temperatureC: z.number().nullable(),
  /** Most the measured devices may draw (enforced power limit, or the estimate's busy watts). */
  powerLimitWatts: z.number().min(0).nullable(),
  /** A chunk was running when the sample was taken. */
  busy: z.boolean(),
  /** The idle baseline the agent uses for its chunks (configured or measured); null when not known yet. */
  idleWatts: z.number().min(0).nullable(),
});
export type TelemetrySample = z.infer<typeof TelemetrySampleSchema>;
