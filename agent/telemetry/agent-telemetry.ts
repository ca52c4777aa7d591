import { randomBytes } from "node:crypto";
import type { Logger } from "../../shared/log.ts";
import type { TelemetrySample } from "../../shared/protocol/telemetry-message.ts";
import { otherGpuUsers } from "../probe/other-gpu-users.ts";
import type { PowerReading, PowerSource } from "../probe/power-source-types.ts";
import { energyStep } from "./energy-step.ts";
import { ForeignGpuGate } from "./foreign-gpu-gate.ts";
import { IdleBaselineTracker } from "./idle-baseline-tracker.ts";

/**
 * The agent's running view of its own power: reads the power source every
 * intervalMs (1 s by default) and turns each reading into a telemetry sample
 * (published by the caller), feeds the foreign-GPU-use gate and the measured
 * idle baseline. Owns none of the I/O except the reads; the source is closed
 * by whoever opened it.
 */
export interface AgentTelemetryOptions {
  source: PowerSource;
  /** Sample period, ms. Default 1000. */
  intervalMs?: number;
  /** The agent's own pids (NVML and nvidia-smi report host pids). */
  ownPids: readonly number[];
  /** GPUs this agent uses; all the source watches when omitted. */
  gpuUuids?: readonly string[];
  /** How long the GPU must stay free of other users before new chunks are taken. Default 60 s. */
  gpuFreeMs?: number;
  /** False: never pause for other GPU users (the NVML-vs-agent check runs its own load beside the agent). */
  pauseOnForeignGpuUse?: boolean;
  /** Other processes holding less than this are ignored (a monitoring tool's context). Default 0. */
  minForeignBytes?: number;
  /** `--idle-watts`; null: measured from idle readings. */
  configuredIdleWatts: number | null;
  now?: () => number;
  rss?: () => number;
  log: Logger;
}

export interface TelemetryContext {
  agentId: string;
  busy: () => boolean;
  publish: (sample: TelemetrySample) => void;
}

export class AgentTelemetry {
  readonly session = randomBytes(6).toString("hex");
  private readonly gate: ForeignGpuGate;
  private readonly idle: IdleBaselineTracker;
  private readonly intervalMs: number;
  private readonly now: () => number;
  private prev: PowerReading | null = null;
  private seq = 0;
  private totalJoules = 0;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<unknown> | null = null;
  private failures = 0;

  constructor(private readonly opts: AgentTelemetryOptions) {
    this.intervalMs = opts.intervalMs ?? 1000;
    if (!(this.intervalMs >= 50)) throw new RangeError(`telemetry interval must be >= 50 ms, got ${this.intervalMs}`);
    this.now = opts.now ?? Date.now;
    this.gate = new ForeignGpuGate(opts.gpuFreeMs ?? 60_000, this.now);
    this.idle = new IdleBaselineTracker({ configuredWatts: opts.configuredIdleWatts });
  }

  get source(): PowerSource {
    return this.opts.source;
  }

  /** False while someone else uses the GPU, and until it has been free for gpuFreeMs. */
  mayTakeWork(): boolean {
    return this.opts.pauseOnForeignGpuUse === false || this.gate.mayTakeWork();
  }

  /** Why the agent is not taking work ("" when it is). */
  note(): string {
    return this.opts.pauseOnForeignGpuUse === false ? "" : this.gate.note();
  }

  /** The idle baseline for the next chunk: configured, measured, or null while unknown. */
  idleWatts(): number | null {
    return this.idle.current();
  }

  start(ctx: TelemetryContext): void {
    if (this.timer) return;
    const tick = (): void => {
      if (this.inFlight !== null) return;
      this.inFlight = this.sample(ctx.busy())
        .then((s) => ctx.publish({ ...s, agentId: ctx.agentId }))
        .catch((err: unknown) => {
          this.failures += 1;
          if (this.failures === 1) this.opts.log.warn({ err: (err as Error).message, source: this.opts.source.kind }, "telemetry reading failed");
        })
        .finally(() => (this.inFlight = null));
    };
    this.timer = setInterval(tick, this.intervalMs);
    this.timer.unref();
    tick();
  }

  /** One reading turned into a sample (agentId left empty); also feeds the gate and the idle baseline. */
  async sample(busy: boolean): Promise<TelemetrySample> {
    const r = await this.opts.source.read();
    const step = energyStep(this.prev, r);
    this.prev = r;
    this.totalJoules += step.joules;
    const procs = r.gpuProcesses ?? null;
    const others =
      procs === null ? null : otherGpuUsers(procs, this.opts.ownPids, { gpuUuids: this.opts.gpuUuids, minBytes: this.opts.minForeignBytes ?? 0 });
    const before = this.gate.state;
    this.gate.observe(others);
    if (this.opts.pauseOnForeignGpuUse !== false && before !== this.gate.state) {
      this.opts.log.info({ from: before, to: this.gate.state, others: others?.others.map((p) => p.pid) ?? [] }, "foreign gpu use state changed");
    }
    this.idle.add(r.tMs, r.watts, !busy && others?.busy !== true);
    const finite = (v: number | null | undefined): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);
    return {
      agentId: "",
      session: this.session,
      seq: this.seq++,
      tMs: r.tMs,
      source: this.opts.source.kind,
      watts: finite(r.watts) === null ? null : Math.max(0, r.watts as number),
      energyJoules: Math.max(0, step.joules),
      energyTotalJoules: Math.max(0, this.totalJoules),
      energyMethod: step.method,
      vramBytes: finite(r.vramBytes),
      ramBytes: (this.opts.rss ?? (() => process.memoryUsage.rss()))(),
      utilisationPercent: finite(r.utilisationPercent) === null ? null : Math.min(100, Math.max(0, r.utilisationPercent as number)),
      temperatureC: finite(r.temperatureC),
      powerLimitWatts: finite(r.powerLimitWatts),
      busy,
      idleWatts: this.idle.current(),
    };
  }

  /** Stops sampling; waits for a reading in flight. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.inFlight;
  }
}
