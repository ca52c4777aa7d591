import type { Store } from "../store/store.ts";
import type { AgentRow } from "../store/agents-table.ts";
import type { Clock } from "../../shared/clock.ts";
import type { Logger } from "../../shared/log.ts";
import type { Heartbeat } from "../../shared/protocol/messages.ts";
import { newId } from "../../shared/ids.ts";
import type { ClaimService } from "../dispatch/claim-service.ts";
import type { FarmPolicy } from "../dispatch/farm-policy.ts";

/** What an agent says about itself when it joins: its row, less what the coordinator decides. */
export type JoinInfo = Omit<AgentRow, "id" | "state" | "firstSeen" | "lastSeen"> & { agentId: string };

/** Hooks the registry calls on the transport side (per-agent consumers, NATS users). */
export interface AgentTransportHooks {
  onJoined(agent: AgentRow): Promise<void>;
  /** An agent's heartbeats stopped (the webhook "agent.offline"). */
  onOffline?(agent: AgentRow, silentMs: number): void;
}

/**
 * Knows which agents exist and whether they are alive. Heartbeats refresh
 * last_seen; a sweep marks silent agents offline and hands their running
 * attempts back to the queue, within agentTimeoutMs plus one sweep period.
 */
export class AgentRegistry {
  private timer: NodeJS.Timeout | undefined;
  /** Latest heartbeat per agent (status, current attempt), kept in memory only. */
  readonly live = new Map<string, Heartbeat>();
  /** When a heartbeat last named each running attempt. */
  private readonly attemptSeen = new Map<string, number>();
  private readonly startedAt: number;

  constructor(
    private readonly store: Store,
    private readonly claims: ClaimService,
    private readonly policy: FarmPolicy,
    private readonly hooks: AgentTransportHooks,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly onOnline: () => void,
  ) {
    this.startedAt = clock();
  }

  async join(info: JoinInfo): Promise<AgentRow> {
    const now = this.clock();
    const id = info.agentId || newId("agt", now);
    const existing = this.store.agents.get(id);
    if (existing?.state === "removed") throw new Error(`agent ${id} was removed; enroll it again`);
    const row = this.store.agents.upsert({ ...info, id, state: existing?.state ?? "online", now });
    if (row.state !== "online") this.store.agents.transition(id, "online");
    await this.hooks.onJoined(row);
    this.log.info({ agentId: id, name: info.name, gpus: info.gpus.length }, "agent joined");
    this.onOnline();
    return { ...row, state: "online" };
  }

  heartbeat(hb: Heartbeat): void {
    const agent = this.store.agents.get(hb.agentId);
    if (!agent || agent.state === "removed") return;
    this.live.set(hb.agentId, hb);
    this.store.agents.touch(hb.agentId, this.clock());
    for (const id of [...(hb.attemptId ? [hb.attemptId] : []), ...(hb.otherAttemptIds ?? [])]) this.attemptSeen.set(id, this.clock());
    if (agent.state === "offline") {
      this.store.agents.transition(hb.agentId, "online");
      this.log.info({ agentId: hb.agentId, name: agent.name }, "agent back online");
      this.onOnline();
    }
  }

  /** Marks agents offline whose last heartbeat is older than the timeout. Returns their ids. */
  sweep(): string[] {
    const now = this.clock();
    const gone: string[] = [];
    for (const a of this.store.agents.list()) {
      if (a.state !== "online" || now - a.lastSeen <= this.policy.agentTimeoutMs) continue;
      this.store.agents.transition(a.id, "offline");
      this.live.delete(a.id);
      gone.push(a.id);
      this.log.warn({ agentId: a.id, name: a.name, silentMs: now - a.lastSeen }, "agent offline: heartbeats stopped");
      this.claims.loseAgentAttempts(a.id, `agent ${a.name} stopped sending heartbeats`);
      this.hooks.onOffline?.(a, now - a.lastSeen);
    }
    this.sweepOrphanedAttempts(now);
    return gone;
  }

  /**
   * An online agent whose heartbeats stopped naming one of its running attempts
   * is no longer working on it (its upload broke, or the coordinator restarted
   * under it): that attempt is lost and its chunk requeued.
   */
  private sweepOrphanedAttempts(now: number): void {
    const limit = this.policy.agentTimeoutMs + this.policy.heartbeatMs;
    for (const a of this.store.agents.list()) {
      if (a.state !== "online") continue;
      for (const att of this.store.attempts.runningForAgent(a.id)) {
        const seen = this.attemptSeen.get(att.id) ?? Math.max(att.createdAt, this.startedAt);
        if (now - seen <= limit) continue;
        this.attemptSeen.delete(att.id);
        this.claims.loseAttempt(att.id, `agent ${a.name} is no longer working on attempt ${att.id}`);
      }
    }
    if (this.attemptSeen.size > 10_000) {
      for (const [id, t] of this.attemptSeen) if (now - t > limit * 10) this.attemptSeen.delete(id);
    }
  }

  start(): void {
    const period = Math.max(100, Math.floor(this.policy.heartbeatMs / 2));
    this.timer = setInterval(() => {
      try {
        this.sweep();
      } catch (err) {
        this.log.error({ err }, "agent sweep failed");
      }
    }, period);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
