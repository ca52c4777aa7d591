import type { ChunkAccounting, ChunkMeter } from "../../shared/accounting/chunk-accounting.ts";
import { monotonicCounterDelta, wrappingCounterDelta } from "../../shared/accounting/counter-delta.ts";
import { idleEnergyJoules } from "../../shared/accounting/idle-baseline.ts";
import { integratePower, type PowerSample } from "../../shared/accounting/integrate-power.ts";
import { IllegalTransitionError } from "../../shared/errors.ts";
import { silentLogger, type Logger } from "../../shared/log.ts";
import type { EnergyCounterReading, PowerReading, PowerSource } from "./power-source-types.ts";
import { startPeakRamTracker, type PeakRamTracker } from "./process-memory.ts";

/**
 * Measures one chunk at a time: polls the power source every intervalMs
 * between start() and stop().
 *
 * Energy comes from counter differences when the source has counters (NVML
 * total energy, RAPL) and they stayed readable, summed step by step so that a
 * RAPL wrap is seen at every step; otherwise from integrating the power
 * readings over [start, stop], holding the first and last reading out to the
 * edges. The idle baseline (idleWatts x wall) is reported separately. Peak
 * memory is the agent's VRAM when the source could see it, else its RAM.
 *
 * start() stamps the start and returns at once: its I/O (resetting the
 * kernel's RAM high-water mark, the first power reading) finishes in the
 * background and stop() waits for it. The runner starts the meter while it
 * holds the agent's one executor slot, so that I/O (tens of ms on a loaded
 * machine) would otherwise keep the device idle between chunks.
 */
export interface ChunkMeterOptions {
  source: PowerSource;
  /** Default 100 ms. */
  intervalMs?: number;
  /** Baseline watts of the idle node (configured or measured); null when unknown. */
  idleWatts?: number | null;
  now?: () => number;
  log?: Logger;
  /** Injected for tests; defaults to process RSS. */
  ramTracker?: () => Promise<PeakRamTracker>;
}

interface Run {
  startMs: number;
  /** Null until start()'s background work has made it (or when it could not). */
  ram: PeakRamTracker | null;
  /** start()'s background work: the RAM tracker and the first reading. Never rejects. */
  ready: Promise<void>;
  samples: PowerSample[];
  readings: number;
  failures: number;
  peakVram: number | null;
  prevCounters: EnergyCounterReading[] | null;
  counterJoules: number;
  counterSteps: number;
  countersBroken: boolean;
  busySeconds: number;
  timer: NodeJS.Timeout;
  inFlight: Promise<void> | null;
}

function counterStep(prev: EnergyCounterReading, next: EnergyCounterReading): number | null {
  const units =
    next.maxRange === null ? monotonicCounterDelta(prev.value, next.value) : wrappingCounterDelta(prev.value, next.value, next.maxRange);
  return units === null ? null : units * next.joulesPerUnit;
}

export function createChunkMeter(options: ChunkMeterOptions): ChunkMeter {
  const { source } = options;
  const intervalMs = options.intervalMs ?? 100;
  const now = options.now ?? Date.now;
  const log = options.log ?? silentLogger();
  let run: Run | null = null;

  const record = (r: Run, reading: PowerReading): void => {
    r.readings += 1;
    r.ram?.sample();
    if (reading.watts !== null && Number.isFinite(reading.watts)) r.samples.push({ tMs: reading.tMs, watts: reading.watts });
    if (reading.vramBytes !== null) r.peakVram = Math.max(r.peakVram ?? 0, reading.vramBytes);
    if (reading.counters === null || r.countersBroken) return;
    if (r.prevCounters !== null) {
      for (const prev of r.prevCounters) {
        const next = reading.counters.find((c) => c.id === prev.id);
        let joules: number | null = null;
        try {
          joules = next === undefined ? null : counterStep(prev, next);
        } catch {
          joules = null;
        }
        if (joules === null) {
          r.countersBroken = true;
          log.warn({ counter: prev.id }, "energy counter unusable, integrating power instead");
          return;
        }
        r.counterJoules += joules;
      }
      r.counterSteps += 1;
    }
    r.prevCounters = reading.counters;
  };

  const poll = async (r: Run): Promise<void> => {
    try {
      record(r, await source.read());
    } catch (err) {
      r.failures += 1;
      if (r.failures === 1) log.warn({ err, source: source.kind }, "power reading failed");
    }
  };

  return {
    source: source.kind,
    async start(): Promise<void> {
      if (run !== null) throw new IllegalTransitionError("chunk meter", "running", "running");
      const r: Run = {
        startMs: now(),
        ram: null,
        ready: Promise.resolve(),
        samples: [],
        readings: 0,
        failures: 0,
        peakVram: null,
        prevCounters: null,
        counterJoules: 0,
        counterSteps: 0,
        countersBroken: false,
        busySeconds: 0,
        timer: setInterval(() => {
          if (r.inFlight === null) r.inFlight = poll(r).finally(() => (r.inFlight = null));
        }, intervalMs),
        inFlight: null,
      };
      r.timer.unref();
      run = r;
      r.ready = (async () => {
        r.ram = await (options.ramTracker ?? startPeakRamTracker)().catch(() => null);
        await poll(r);
      })();
      // The interval's polls wait behind the first reading, so readings never overlap.
      r.inFlight = r.ready.finally(() => (r.inFlight = null));
    },
    markBusy(seconds: number): void {
      if (run !== null && Number.isFinite(seconds) && seconds > 0) run.busySeconds += seconds;
    },
    async stop(): Promise<ChunkAccounting> {
      const r = run;
      if (r === null) throw new IllegalTransitionError("chunk meter", "stopped", "stopped");
      clearInterval(r.timer);
      await r.ready;
      await r.inFlight;
      await poll(r);
      run = null;
      const endMs = Math.max(now(), r.startMs);
      const wallSeconds = (endMs - r.startMs) / 1000;
      const useCounters = !r.countersBroken && r.counterSteps > 0;
      let energyJoules = useCounters ? r.counterJoules : integrateHeld(r.samples, r.startMs, endMs);
      if (!Number.isFinite(energyJoules) || energyJoules < 0) energyJoules = 0;
      if (!useCounters && r.samples.length === 0) log.warn({ source: source.kind }, "no power readings during chunk; energy unknown");
      const ramPeak = r.ram === null ? process.memoryUsage.rss() : await r.ram.peak();
      return {
        wallSeconds,
        busySeconds: r.busySeconds,
        energyJoules,
        energySource: source.kind,
        idleEnergyJoules: idleEnergyJoules(options.idleWatts, wallSeconds),
        peakMemoryBytes: r.peakVram ?? ramPeak,
        memoryKind: r.peakVram === null ? "ram" : "vram",
        meanWatts: wallSeconds > 0 ? energyJoules / wallSeconds : 0,
        samples: r.readings,
      };
    },
  };
}

/** Integral over [startMs, endMs], the first and last reading held constant out to the edges. */
function integrateHeld(samples: readonly PowerSample[], startMs: number, endMs: number): number {
  if (samples.length === 0 || !(endMs > startMs)) return 0;
  const sorted = [...samples].sort((a, b) => a.tMs - b.tMs);
  const first = sorted[0] as PowerSample;
  const last = sorted[sorted.length - 1] as PowerSample;
  const padded = [...sorted];
  if (first.tMs > startMs) padded.unshift({ tMs: startMs, watts: first.watts });
  if (last.tMs < endMs) padded.push({ tMs: endMs, watts: last.watts });
  return integratePower(padded, { startMs, endMs });
}
