import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import type { Clock } from "../../shared/clock.ts";
import type { Logger } from "../../shared/log.ts";
import { decodeJson } from "../../shared/protocol/messages.ts";
import { TelemetrySampleSchema, type TelemetrySample } from "../../shared/protocol/telemetry-message.ts";
import type { Store } from "../store/store.ts";
import { TelemetryAggregator } from "./telemetry-aggregator.ts";
import { DEFAULT_TELEMETRY_RETENTION, retentionCutoffs, type TelemetryRetention } from "./telemetry-retention.ts";

export interface LatestTelemetry {
  sample: TelemetrySample;
  receivedAtMs: number;
}

export interface TelemetryServiceOptions {
  bucketMs?: number;
  retention?: TelemetryRetention;
  /** A sample whose time is further than this from the coordinator's clock is filed under the receive time. */
  maxClockSkewMs?: number;
  /** Busy power readings kept per agent for its expected busy draw. */
  busyWindow?: number;
}

const FLUSH_EVERY_MS = 5_000;
const COMPACT_EVERY_MS = 3_600_000;

/**
 * The coordinator's side of telemetry: takes samples from <p>.telemetry.*,
 * keeps the latest per agent in memory (power budget, `nightshift agents`,
 * metrics), and writes minute buckets to the store; once an hour it applies
 * the retention rule (minutes merged into hours after a week).
 */
export class TelemetryService {
  private readonly latestByAgent = new Map<string, LatestTelemetry>();
  /** Told of every accepted sample (the dashboard's watts chart), instead of polling latestAll(). */
  private readonly sampleListeners = new Set<(agentId: string, latest: LatestTelemetry) => void>();
  private readonly joules = new Map<string, number>();
  private readonly busyReadings = new Map<string, number[]>();
  private readonly agg: TelemetryAggregator;
  private timers: NodeJS.Timeout[] = [];
  received = 0;
  dropped = 0;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly opts: TelemetryServiceOptions = {},
  ) {
    this.agg = new TelemetryAggregator(opts.bucketMs ?? 60_000);
  }

  /** One sample from the wire; subjectAgentId is the agent id in the subject (what NATS permissions vouch for). */
  ingest(subjectAgentId: string, sample: TelemetrySample): void {
    if (sample.agentId !== subjectAgentId) {
      this.dropped += 1;
      this.log.warn({ subjectAgentId, agentId: sample.agentId }, "telemetry sample for another agent ignored");
      return;
    }
    const now = this.clock();
    const t = Math.abs(sample.tMs - now) <= (this.opts.maxClockSkewMs ?? 300_000) ? sample.tMs : now;
    const r = this.agg.add(sample, t);
    if (r === null) {
      this.dropped += 1;
      return;
    }
    this.received += 1;
    const latest = { sample, receivedAtMs: now };
    this.latestByAgent.set(sample.agentId, latest);
    for (const listen of this.sampleListeners) listen(sample.agentId, latest);
    this.joules.set(sample.agentId, (this.joules.get(sample.agentId) ?? 0) + r.energyJoules);
    if (sample.busy && sample.watts !== null) {
      const list = this.busyReadings.get(sample.agentId) ?? [];
      list.push(sample.watts);
      if (list.length > (this.opts.busyWindow ?? 300)) list.shift();
      this.busyReadings.set(sample.agentId, list);
    }
    this.write(r.closed);
  }

  latest(agentId: string): LatestTelemetry | undefined {
    return this.latestByAgent.get(agentId);
  }

  /** Calls `listen` with each accepted sample from now on; returns the unsubscribe. */
  onSample(listen: (agentId: string, latest: LatestTelemetry) => void): () => void {
    this.sampleListeners.add(listen);
    return () => this.sampleListeners.delete(listen);
  }

  latestAll(): ReadonlyMap<string, LatestTelemetry> {
    return this.latestByAgent;
  }

  /** Joules reported by each agent since this coordinator started (a Prometheus counter). */
  energyJoules(): ReadonlyMap<string, number> {
    return this.joules;
  }

  /**
   * What the agent draws while rendering: the 95th percentile of its recent
   * busy readings (at least 5), else the highest fully-busy minute of the past
   * week in the store, else its power limit; null when none is known.
   */
  expectedBusyWatts(agentId: string): number | null {
    const recent = this.busyReadings.get(agentId) ?? [];
    if (recent.length >= 5) {
      const sorted = [...recent].sort((a, b) => a - b);
      return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.95) - 1)] as number;
    }
    const stored = this.store.telemetry.busyWatts(agentId, this.clock() - 7 * 86_400_000);
    if (stored !== null) return stored;
    return this.latestByAgent.get(agentId)?.sample.powerLimitWatts ?? null;
  }

  /** Subscribes to every agent's telemetry subject (<p>.telemetry.*). */
  subscribe(nc: NatsConnection, subjectAll: string): Subscription {
    return nc.subscribe(subjectAll, {
      callback: (err, msg) => {
        if (err) return;
        try {
          this.ingest(msg.subject.slice(msg.subject.lastIndexOf(".") + 1), decodeJson(TelemetrySampleSchema, msg.data));
        } catch (e) {
          this.dropped += 1;
          this.log.warn({ subject: msg.subject, err: (e as Error).message }, "malformed telemetry ignored");
        }
      },
    });
  }

  start(): void {
    const flush = setInterval(() => this.write(this.agg.flushEnded(this.clock())), FLUSH_EVERY_MS);
    const compact = setInterval(() => this.compact(), COMPACT_EVERY_MS);
    flush.unref();
    compact.unref();
    this.timers = [flush, compact];
    this.compact();
  }

  /** Applies the retention rule now. */
  compact(): void {
    try {
      const r = this.store.telemetry.compact(retentionCutoffs(this.clock(), this.opts.retention ?? DEFAULT_TELEMETRY_RETENTION));
      if (r.coarsened > 0 || r.deleted > 0) this.log.info(r, "telemetry compacted");
    } catch (err) {
      this.log.error({ err: (err as Error).message }, "telemetry compaction failed");
    }
  }

  /** Stops the timers and writes the open buckets. Safe to call twice. */
  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.write(this.agg.flushAll());
  }

  private write(rows: ReturnType<TelemetryAggregator["flushAll"]>): void {
    if (rows.length === 0) return;
    try {
      this.store.telemetry.upsert(rows);
    } catch (err) {
      this.log.error({ err: (err as Error).message, rows: rows.length }, "telemetry write failed");
    }
  }
}
