import type { ChunkAccounting, ChunkMeter } from "../../shared/accounting/chunk-accounting.ts";
import { monotonicCounterDelta, wrappingCounterDelta } from "../../shared/accounting/counter-delta.ts";
import { idleEnergyJoules } from "../../shared/accounting/idle-baseline.ts";
import { integratePower, type PowerSample } from "../../shared/accounting/integrate-power.ts";
import { IllegalTransitionError } from "../../shared/errors.ts";
import { silentLogger, type Logger } from "../../shared/log.ts";
import type { EnergyCounterReading, PowerReading, PowerSource } from "./power-source-types.ts";
import { startPeakRamTracker, type PeakRamTracker } from "./process-memory.ts";
import type { EnergyCounting, MeterHandOver } from "./meter-hand-over.ts";

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
 *
 * With a hand-over (meter-hand-over.ts, one per agent), two meters that run
 * at once (the next chunk's starts while this one's last frame is uploaded)
 * never count the same energy: each counts only while it is the last one
 * started, in segments that meet at a shared reading.
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
  /** The agent's one hand-over between its meters; without it this meter counts its whole wall. */
  handOver?: MeterHandOver;
}

/** A stretch of time this meter counted energy for, from one shared reading to the next. */
interface Segment {
  fromMs: number;
  /** Null while counting. */
  toMs: number | null;
  samples: PowerSample[];
  prevCounters: EnergyCounterReading[] | null;
  /** tMs of the last reading counted (a hand-over reading older than it is not counted twice). */
  lastTMs: number;
}

interface Run {
  startMs: number;
  /** Null until start()'s background work has made it (or when it could not). */
  ram: PeakRamTracker | null;
  /** start()'s background work: the RAM tracker and the first reading. Never rejects. */
  ready: Promise<void>;
  /** The stretches this meter counted energy for; it counts now while the last one is open (toMs null). */
  segments: Segment[];
  /** This run's side of the hand-over (one object, known to the hand-over by identity). */
  turn: EnergyCounting | null;
  /** Its first reading failed while another meter counted: that one counts on until this one's first good reading. */
  waiting: boolean;
  readings: number;
  failures: number;
  peakVram: number | null;
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

/** The segment this meter is counting in now, if it counts. */
function openSegment(r: Run): Segment | undefined {
  const last = r.segments.at(-1);
  return last !== undefined && last.toMs === null ? last : undefined;
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
    if (reading.vramBytes !== null) r.peakVram = Math.max(r.peakVram ?? 0, reading.vramBytes);
    // Energy only while this meter counts (another meter, started later, may count it now).
    const seg = openSegment(r);
    if (seg === undefined) return;
    seg.lastTMs = Math.max(seg.lastTMs, reading.tMs);
    if (reading.watts !== null && Number.isFinite(reading.watts)) seg.samples.push({ tMs: reading.tMs, watts: reading.watts });
    if (reading.counters === null || r.countersBroken) return;
    if (seg.prevCounters !== null) {
      for (const prev of seg.prevCounters) {
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
    seg.prevCounters = reading.counters;
  };

  /** One reading, or null when it failed (counted, and logged once per chunk). */
  const read = async (r: Run): Promise<PowerReading | null> => {
    try {
      return await source.read();
    } catch (err) {
      r.failures += 1;
      if (r.failures === 1) log.warn({ err, source: source.kind }, "power reading failed");
      return null;
    }
  };

  /** A good reading: a waiting meter takes over at it first (meter-hand-over.ts `confirm`), then it is recorded. */
  const counted = (r: Run, reading: PowerReading): void => {
    if (r.waiting && r.turn !== null && options.handOver !== undefined) {
      const atMs = now();
      if (options.handOver.confirm(r.turn, reading, atMs)) {
        r.waiting = false;
        r.segments.push({ fromMs: Math.max(atMs, r.startMs), toMs: null, samples: [], prevCounters: null, lastTMs: -Infinity });
      }
    }
    record(r, reading);
  };

  const poll = async (r: Run): Promise<void> => {
    const reading = await read(r);
    if (reading !== null) counted(r, reading);
  };

  /** This meter's side of the hand-over: its counting stops and resumes at readings another meter took. */
  const counting = (r: Run): EnergyCounting => ({
    yieldAt(reading, atMs) {
      const seg = openSegment(r);
      if (seg === undefined) return;
      if (reading !== null && reading.tMs >= seg.lastTMs) record(r, reading);
      seg.toMs = Math.max(atMs, seg.fromMs);
    },
    resumeAt(reading, atMs) {
      if (openSegment(r) !== undefined || run !== r) return;
      r.waiting = false;
      r.segments.push({ fromMs: atMs, toMs: null, samples: [], prevCounters: null, lastTMs: -Infinity });
      if (reading !== null) record(r, reading);
    },
  });

  return {
    source: source.kind,
    async start(): Promise<void> {
      if (run !== null) throw new IllegalTransitionError("chunk meter", "running", "running");
      const r: Run = {
        startMs: now(),
        ram: null,
        ready: Promise.resolve(),
        segments: [],
        turn: null,
        waiting: false,
        readings: 0,
        failures: 0,
        peakVram: null,
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
      r.turn = counting(r);
      run = r;
      const handOver = options.handOver;
      r.ready = (async () => {
        r.ram = await (options.ramTracker ?? startPeakRamTracker)().catch(() => null);
        const first = await read(r);
        // Counting starts at this first reading: from the start stamp when no other meter runs, else from
        // the reading itself, where the meter counting so far stops; when that reading failed while another
        // meter counts, that one counts on until this one's first good reading (`counted`).
        const atMs = now();
        const took = handOver?.take(r.turn as EnergyCounting, first, atMs) ?? "alone";
        if (took === "waiting") r.waiting = true;
        else r.segments.push({ fromMs: took === "took" ? Math.max(atMs, r.startMs) : r.startMs, toMs: null, samples: [], prevCounters: null, lastTMs: -Infinity });
        if (first !== null) record(r, first);
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
      const last = await read(r);
      if (last !== null) counted(r, last);
      const endMs = Math.max(now(), r.startMs);
      const open = openSegment(r);
      if (open !== undefined) open.toMs = Math.max(endMs, open.fromMs);
      run = null;
      // An earlier meter still running counts again from this last reading.
      if (r.turn !== null) options.handOver?.release(r.turn, last, endMs);
      const wallSeconds = (endMs - r.startMs) / 1000;
      const countedSeconds = r.segments.reduce((sum, g) => sum + ((g.toMs ?? endMs) - g.fromMs), 0) / 1000;
      const useCounters = !r.countersBroken && r.counterSteps > 0;
      let energyJoules = useCounters ? r.counterJoules : r.segments.reduce((sum, g) => sum + integrateHeld(g.samples, g.fromMs, g.toMs ?? endMs), 0);
      if (!Number.isFinite(energyJoules) || energyJoules < 0) energyJoules = 0;
      if (!useCounters && r.segments.every((g) => g.samples.length === 0)) log.warn({ source: source.kind }, "no power readings during chunk; energy unknown");
      const ramPeak = r.ram === null ? process.memoryUsage.rss() : await r.ram.peak();
      return {
        wallSeconds,
        busySeconds: r.busySeconds,
        energyJoules,
        energySource: source.kind,
        idleEnergyJoules: idleEnergyJoules(options.idleWatts, countedSeconds),
        peakMemoryBytes: r.peakVram ?? ramPeak,
        memoryKind: r.peakVram === null ? "ram" : "vram",
        meanWatts: countedSeconds > 0 ? energyJoules / countedSeconds : 0,
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
