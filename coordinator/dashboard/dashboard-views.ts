/**
 * What the dashboard shows, read from the coordinator's domain (the control
 * API, the store, the registry's heartbeats, telemetry): plain objects, no
 * HTTP. The handlers in dashboard-app.ts only serialise these.
 */
import type { ControlApi, JobView } from "../control/control-api.ts";
import type { Store } from "../store/store.ts";
import type { AgentRow } from "../store/agents-table.ts";
import type { TelemetryService } from "../telemetry/telemetry-service.ts";
import type { Heartbeat } from "../../shared/protocol/messages.ts";
import type { OutboxRow } from "../store/webhook-outbox-table.ts";
import type { WattsHistory } from "./watts-history.ts";

export interface JobRowView extends JobView {
  energyWh: number;
  cost: number;
  currency: string;
}

export interface ChunkCell {
  idx: number;
  frameStart: number;
  frameEnd: number;
  state: string;
  agentId: string | null;
  agentName: string | null;
  attempts: number;
}

export interface JobDetailView {
  job: JobRowView;
  chunks: ChunkCell[];
  /** Per agent: frames committed and energy spent on this job. */
  split: Array<{ agentId: string; name: string; frames: number; energyWh: number; framesPerSecond: number }>;
  /** The newest finished frames (numbers; thumbnails at /api/jobs/:id/frames/:n/thumb). */
  latestFrames: number[];
  /** Why the job waits, when it does (no agent has the kind, the model, the VRAM; the window is not open; paused). */
  waitingReason: string;
}

export interface AgentCardView {
  id: string;
  name: string;
  state: string;
  status: string;
  note: string;
  version: string;
  address: string;
  gpus: Array<{ name: string; vramBytes: number; vramUsedBytes: number | null }>;
  /** Per step kind, as advertised at join: the tool's version, its devices (ComfyUI's /system_stats), and whether its heartbeat says it is down. */
  kinds: Array<{ kind: string; version: string; down: boolean; devices: Array<{ name: string; vramTotal: number; vramFree: number }> }>;
  watts: number | null;
  energySource: string;
  /** [time ms, watts] of the last minutes, for the chart. */
  wattsSeries: Array<[number, number]>;
  running: { jobId: string; chunkId: string; framesDone: number; framesTotal: number } | null;
  framesPerSecond: number;
}

export interface NotificationView {
  id: string;
  event: string;
  url: string;
  state: string;
  attempts: number;
  lastError: string;
  createdAtMs: number;
  deliveredAtMs: number | null;
}

export interface DashboardViewDeps {
  api: ControlApi;
  store: Store;
  telemetry: TelemetryService;
  live: ReadonlyMap<string, Heartbeat>;
  watts: WattsHistory;
  notifications: () => OutboxRow[];
}

const WAITING_STATES = new Set(["queued", "paused", "running"]);

export class DashboardViews {
  constructor(private readonly d: DashboardViewDeps) {}

  private withCost(v: JobView): JobRowView {
    const r = this.d.api.report(v.id);
    const j = r.jobs[0];
    return { ...v, energyWh: j?.energyWh ?? 0, cost: j?.cost ?? 0, currency: r.currency };
  }

  /** Newest first, at most `limit`. */
  jobs(limit = 100): JobRowView[] {
    return this.d.api
      .jobs()
      .sort((a, b) => b.createdAtMs - a.createdAtMs)
      .slice(0, limit)
      .map((v) => this.withCost(v));
  }

  job(jobId: string): JobDetailView {
    const job = this.withCost(this.d.api.job(jobId));
    const { store } = this.d;
    const names = new Map(store.agents.list().map((a) => [a.id, a.name]));
    const ledger = store.ledger.listByJob(jobId);
    const doneBy = new Map(ledger.map((e) => [e.chunkId, e.agentId]));
    const chunks: ChunkCell[] = store.chunks.listByJob(jobId).map((c) => {
      const current = c.currentAttemptId ? store.attempts.get(c.currentAttemptId) : undefined;
      const agentId = doneBy.get(c.id) ?? current?.agentId ?? c.placedAgentId ?? null;
      return {
        idx: c.idx,
        frameStart: c.frameStart,
        frameEnd: c.frameEnd,
        state: c.state,
        agentId,
        agentName: agentId ? (names.get(agentId) ?? agentId) : null,
        attempts: c.attempts,
      };
    });
    const report = this.d.api.report(jobId);
    const split = report.agents.map((a) => ({ agentId: a.id, name: a.name, frames: a.frames, energyWh: a.energyWh, framesPerSecond: a.framesPerSecond }));
    const latestFrames = store.frames
      .listByJob(jobId)
      .sort((a, b) => b.committedAt - a.committedAt || b.frame - a.frame)
      .slice(0, 12)
      .map((f) => f.frame);
    const waitingReason = WAITING_STATES.has(job.state) ? waitingReasonOf(job, chunks) : "";
    return { job, chunks, split, latestFrames, waitingReason };
  }

  /** One chunk's log: each attempt (agent, outcome, error) and the tool output its agent reported (`nightshift job logs`). */
  chunkLog(jobId: string, chunk: number): string {
    const lines = this.d.api.logs(jobId, chunk).map((a) =>
      [`${new Date(a.createdAtMs).toISOString()} ${a.attemptId} on ${a.agent}: ${a.state}${a.error ? `: ${a.error}` : ""}`, a.log.trimEnd()].filter((x) => x !== "").join("\n"),
    );
    return lines.length > 0 ? lines.join("\n\n") : "no attempt yet";
  }

  agents(): AgentCardView[] {
    // Measured speed over the night (the report's per-agent frames per second of chunk wall time).
    const speeds = new Map(this.d.api.report().agents.map((a) => [a.id, a.framesPerSecond]));
    return this.d.store.agents.list().map((a) => this.agent(a, speeds.get(a.id) ?? 0));
  }

  private agent(a: AgentRow, framesPerSecond: number): AgentCardView {
    const live = this.d.api.agentLive(a.id);
    const hb = this.d.live.get(a.id);
    const t = this.d.telemetry.latest(a.id)?.sample;
    const running = this.d.store.attempts.runningForAgent(a.id)[0];
    const progress = hb?.progress && running && hb.progress.attemptId === running.id ? hb.progress : undefined;
    const chunk = running ? this.d.store.chunks.get(running.chunkId) : undefined;
    return {
      id: a.id,
      name: a.name,
      state: a.state,
      status: live.status,
      note: live.note,
      version: a.version,
      address: a.address,
      gpus: a.gpus.map((g, i) => ({ name: g.name, vramBytes: g.vramBytes, vramUsedBytes: i === 0 ? (t?.vramBytes ?? null) : null })),
      kinds: a.kinds.map((k) => ({
        kind: k.kind,
        version: k.version,
        down: a.state === "online" && (hb?.downKinds ?? []).includes(k.kind),
        devices: (k.devices ?? []).map((d) => ({ name: d.name, vramTotal: d.vramTotal, vramFree: d.vramFree })),
      })),
      watts: live.powerWatts,
      energySource: live.energySource,
      wattsSeries: this.d.watts.series(a.id),
      running: running && chunk
        ? { jobId: running.jobId, chunkId: running.chunkId, framesDone: progress?.framesDone ?? 0, framesTotal: progress?.framesTotal ?? chunk.frameEnd - chunk.frameStart + 1 }
        : null,
      framesPerSecond,
    };
  }

  notifications(): NotificationView[] {
    return this.d.notifications().map((r) => ({
      id: r.id,
      event: r.event,
      url: r.url,
      state: r.state,
      attempts: r.attempts,
      lastError: r.lastError ?? "",
      createdAtMs: r.createdAt,
      deliveredAtMs: r.deliveredAt,
    }));
  }
}

/** The job's own note (scheduler holds, window, pause reason), or what its chunks say when it has none. */
function waitingReasonOf(job: JobRowView, chunks: ChunkCell[]): string {
  if (job.state === "paused") return job.message || "paused";
  const running = chunks.some((c) => c.state === "running");
  if (job.message) return job.message;
  if (!running && chunks.some((c) => c.state === "pending" || c.state === "queued")) return "waiting for a free agent";
  return "";
}
