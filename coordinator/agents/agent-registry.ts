import type { Store } from "../store/store.ts";
import type { AgentLiveness, AgentRow } from "../store/agents-table.ts";
import type { Clock } from "../../shared/clock.ts";
import type { Logger } from "../../shared/log.ts";
import type { Heartbeat } from "../../shared/protocol/messages.ts";
import { newId } from "../../shared/ids.ts";
import type { ClaimService } from "../dispatch/claim-service.ts";
import type { FarmPolicy } from "../dispatch/farm-policy.ts";
import type { AgentProber, ProbeAnswer } from "./agent-prober.ts";
import { livenessRules, silentAgentVerdict, type LivenessRules, type LossReason } from "./silent-agent-verdict.ts";

/** What an agent says about itself when it joins: its row, less what the coordinator decides. */
export type JoinInfo = Omit<AgentRow, "id" | "state" | "firstSeen" | "lastSeen"> & { agentId: string };

/** The probes of one agent's current silence (silent-agent-verdict.ts), until its next heartbeat. */
interface ProbeState {
  inFlight: boolean;
  last?: { answer: ProbeAnswer; startedAt: number };
  /** "kept online: its host answers" was logged for this silence. */
  starvedLogged: boolean;
}

/** The log message and the attempts' loss reason for each way a silent agent is lost. */
const LOSS_TEXT: Record<LossReason, { msg: string; why: string }> = {
  // A refusal or reset says nothing listens there, or that a firewall or NAT on the way refuses for the agent's host.
  "process gone": {
    msg: "agent offline: heartbeats stopped and its health port refuses connections (its process is gone, or a firewall or NAT on the way refuses)",
    why: "stopped sending heartbeats and its health port refuses connections (its process is gone, or a firewall or NAT on the way refuses)",
  },
  "no answer": { msg: "agent offline: heartbeats stopped and its host does not answer", why: "stopped sending heartbeats and its host does not answer" },
  silent: { msg: "agent offline: heartbeats stopped", why: "stopped sending heartbeats" },
  "starved too long": { msg: "agent offline: heartbeats stopped too long, though its host answers", why: "stopped sending heartbeats for too long" },
};

/** Hooks the registry calls on the transport side (per-agent consumers, NATS users). */
export interface AgentTransportHooks {
  onJoined(agent: AgentRow): Promise<void>;
  /** An agent's heartbeats stopped (the webhook "agent.offline"). */
  onOffline?(agent: AgentLiveness, silentMs: number): void;
  /**
   * An online agent was heard again after a gap of HEARD_GAP_BEATS heartbeat periods or more (its link was down),
   * or for the first time since an outage of the coordinator's own NATS connection (the nats-server died or
   * restarted, however short): work placed on it by then may have been delivered into the gap, to a pull that
   * died with the link or the server (placed-take-back.ts heardAfterGap).
   */
  onHeardAfterGap?(agentId: string, gapMs: number): void;
  /** Any heartbeat, after the registry has taken it (in `live`): lost work waiting for a roll call's answer is placed (roll-call.ts). */
  onHeard?(agentId: string): void;
}

/** Heartbeat periods between two heartbeats of an agent that make a gap (onHeardAfterGap); a late one is under 2. */
export const HEARD_GAP_BEATS = 2;

/**
 * Knows which agents exist and whether they are alive. Heartbeats refresh
 * last_seen; a sweep marks silent agents offline and hands their running
 * attempts back to the queue, within agentTimeoutMs plus one sweep period.
 * Sooner when NATS says the agent's connection closed from its side (its
 * process died): offline then unless a heartbeat comes within heartbeatMs.
 * An agent that joins again is a new process: its earlier attempts are lost
 * at once. A silent agent's health port is probed (a TCP connect, agent-prober.ts) before it is
 * judged: refused means its process is gone (offline at once), no answer a cut link or a dead
 * machine (offline), accepted a live but starved process (kept online, up to 3 x agentTimeoutMs).
 * The table is silent-agent-verdict.ts.
 */
export class AgentRegistry {
  private timer: NodeJS.Timeout | undefined;
  /** Latest heartbeat per agent (status, current attempt), kept in memory only. */
  readonly live = new Map<string, Heartbeat>();
  /** When a heartbeat last named each running attempt. */
  private readonly attemptSeen = new Map<string, number>();
  /** When NATS last said each agent's connection closed from its side, until a heartbeat or the sweep settles it. */
  private readonly closedAt = new Map<string, number>();
  /** Silence before this moment does not count (the coordinator's start). */
  private readonly graceFrom: number;
  /** Set while the coordinator's own NATS connection is down: no heartbeat can arrive, so silence proves nothing. */
  private busDownSince: number | undefined;
  /** The last outage of that connection: silence during it does not count. */
  private lastOutage: { from: number; to: number } | undefined;
  /** Heartbeat times not written to the store yet (flushTouches). */
  private readonly touches = new Map<string, number>();
  private touchTimer: NodeJS.Timeout | undefined;
  /** Probes of silent agents' health ports, per agent, for the current silence only. */
  private readonly probes = new Map<string, ProbeState>();
  private readonly rules: LivenessRules;
  /** Heartbeats heard per agent since this coordinator started, counted up to 2 (attempts from before the start are judged on them). */
  private readonly heardSinceStart = new Map<string, number>();
  /** When each online agent's last heartbeat arrived (onHeardAfterGap). */
  private readonly heardAt = new Map<string, number>();
  /** Agents heard before the last outage of the coordinator's NATS connection and not since: their next heartbeat ends a gap, however short. */
  private readonly heardBeforeOutage = new Set<string>();
  /** Agents that joined since this coordinator started: their first heartbeat is not "heard again after a restart". */
  private readonly joinedSinceStart = new Set<string>();
  private stopped = false;

  constructor(
    private readonly store: Store,
    private readonly claims: ClaimService,
    private readonly policy: FarmPolicy,
    private readonly hooks: AgentTransportHooks,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly onOnline: () => void,
    /** Probes silent agents' health ports; none: silence alone decides, as before the probe. */
    private readonly prober?: AgentProber,
  ) {
    this.graceFrom = clock();
    this.rules = livenessRules(policy);
  }

  async join(info: JoinInfo): Promise<AgentRow> {
    const now = this.clock();
    const id = info.agentId || newId("agt", now);
    const existing = this.store.agents.get(id);
    if (existing?.state === "removed") throw new Error(`agent ${id} was removed; enroll it again`);
    const row = this.store.agents.upsert({ ...info, id, state: existing?.state ?? "online", now });
    if (row.state !== "online") this.store.agents.transition(id, "online");
    this.closedAt.delete(id);
    this.probes.delete(id);
    this.joinedSinceStart.add(id);
    // A join comes from a process starting: attempts the agent's previous process was running are gone with it.
    for (const att of this.store.attempts.runningForAgent(id)) this.claims.loseAttempt(att.id, `agent ${info.name} started again; its earlier process held attempt ${att.id}`);
    await this.hooks.onJoined(row);
    this.log.info({ agentId: id, name: info.name, gpus: info.gpus.length }, "agent joined");
    this.onOnline();
    return { ...row, state: "online" };
  }

  heartbeat(hb: Heartbeat): void {
    const agent = this.store.agents.liveness(hb.agentId);
    if (!agent || agent.state === "removed") return;
    // A heartbeat proves the bus delivers again, should the connection's "reconnect" status go unseen.
    if (this.busDownSince !== undefined) this.busBack();
    const firstHeard = !this.live.has(hb.agentId);
    this.live.set(hb.agentId, hb);
    this.closedAt.delete(hb.agentId);
    const probed = this.probes.get(hb.agentId);
    if (probed) {
      this.probes.delete(hb.agentId);
      // A long silence is over: the agent gets a fresh orphan limit to name its attempts again (its first heartbeats
      // may come before it has read the claim answers that waited in its socket).
      for (const att of this.store.attempts.runningForAgent(hb.agentId)) this.attemptSeen.set(att.id, this.clock());
      if (probed.starvedLogged) this.log.info({ agentId: hb.agentId, name: agent.name, silentMs: this.clock() - agent.lastSeen }, "silent agent heard again: kept online meanwhile, its host answered");
    }
    this.recordTouch(hb.agentId, this.clock());
    const before = this.heardAt.get(hb.agentId);
    this.heardAt.set(hb.agentId, this.clock());
    const afterOutage = this.heardBeforeOutage.delete(hb.agentId);
    if (before !== undefined && (afterOutage || this.clock() - before >= HEARD_GAP_BEATS * this.policy.heartbeatMs)) this.hooks.onHeardAfterGap?.(hb.agentId, this.clock() - before);
    const heard = this.heardSinceStart.get(hb.agentId) ?? 0;
    if (heard < 2) this.heardSinceStart.set(hb.agentId, heard + 1);
    for (const id of [...(hb.attemptId ? [hb.attemptId] : []), ...(hb.otherAttemptIds ?? [])]) this.attemptSeen.set(id, this.clock());
    if (agent.state === "offline") {
      this.store.agents.transition(hb.agentId, "online");
      this.log.info({ agentId: hb.agentId, name: agent.name }, "agent back online");
      this.onOnline();
    } else if (firstHeard) {
      // One not joined since the start (known before a restart): how long it took to be heard again, which the restart's pool hold waits for.
      if (!this.joinedSinceStart.has(hb.agentId)) this.log.info({ agentId: hb.agentId, name: agent.name, msSinceStart: this.clock() - this.graceFrom }, "agent first heard since the coordinator started");
      // Work is placed only on agents heard since the start (farm-snapshot.ts): a pass now places on this one
      // (a joined agent's first heartbeat, one back after a restart) instead of at the next tick.
      this.onOnline();
    }
    this.hooks.onHeard?.(hb.agentId);
  }

  /**
   * NATS says the agent's connection was closed from its side (agent-disconnect-watch.ts). A live
   * client reconnects and heartbeats within heartbeatMs; unless one comes, the sweep marks it offline.
   * The close of a connection other than the one its last heartbeat named is ignored: the agent
   * dropped a silent one and is heard on its new one (the server reports the old close only once the
   * link is back, often just after that first heartbeat, which would then not count).
   */
  connectionClosed(agentId: string, reason: string, connection?: string): void {
    const agent = this.store.agents.liveness(agentId);
    if (agent?.state !== "online") return;
    const heardOn = this.live.get(agentId)?.natsConnection;
    if (connection !== undefined && heardOn !== undefined && heardOn !== connection) {
      this.log.info({ agentId, name: agent.name, reason, connection, heardOn }, "an earlier NATS connection of the agent closed; it is heard on another");
      return;
    }
    this.closedAt.set(agentId, this.clock());
    this.log.info({ agentId, name: agent.name, reason, connection }, "agent's NATS connection closed");
  }

  /**
   * Marks agents offline whose last heartbeat is older than the timeout, or whose connection
   * closed and no heartbeat followed within heartbeatMs. Returns their ids.
   */
  sweep(): string[] {
    this.flushTouches();
    const now = this.clock();
    const gone: string[] = [];
    const lastSeen = new Map<string, number>();
    for (const a of this.store.agents.listLiveness("online")) {
      lastSeen.set(a.id, a.lastSeen);
      const closed = this.closedAt.get(a.id);
      if (closed !== undefined && now - closed >= this.policy.heartbeatMs) {
        this.goOffline(a, now, "agent offline: connection closed", `agent ${a.name}'s connection closed`);
        gone.push(a.id);
      } else if (this.judgeSilence(a, now)) {
        gone.push(a.id);
      }
    }
    // lastSeen holds the agents online at the sweep's start; those it took offline have left closedAt already (goOffline).
    for (const id of this.closedAt.keys()) if (!lastSeen.has(id)) this.closedAt.delete(id);
    for (const id of this.probes.keys()) if (!lastSeen.has(id)) this.probes.delete(id);
    this.sweepOrphanedAttempts(now, lastSeen);
    return gone;
  }

  /**
   * Judges an online agent by its heartbeat silence (countedSilence: only the time the coordinator could have
   * heard it) and its health port's answers (silent-agent-verdict.ts): marks it offline and returns true when
   * it is lost; starts a probe when one is due.
   */
  private judgeSilence(a: AgentLiveness, now: number): boolean {
    const silentMs = this.countedSilence(a.lastSeen, now);
    const state = this.probes.get(a.id);
    const canProbe = this.prober !== undefined && a.address !== "";
    const v = silentAgentVerdict(silentMs, state ?? { inFlight: false }, canProbe, now, this.rules);
    if (v.lost) {
      const t = LOSS_TEXT[v.reason];
      this.goOffline(a, now, t.msg, `agent ${a.name} ${t.why}`);
      return true;
    }
    if (v.starved && state && !state.starvedLogged) {
      state.starvedLogged = true;
      this.log.warn({ agentId: a.id, name: a.name, silentMs, address: a.address }, "agent silent past the timeout but its host answers: kept online (starved, not lost)");
    }
    if (v.probe) this.startProbe(a, now, state);
    return false;
  }

  /** Probes the agent's health port; a refusal or no answer is judged at once, without waiting for the sweep. */
  private startProbe(a: AgentLiveness, now: number, prev: ProbeState | undefined): void {
    const prober = this.prober;
    if (!prober) return;
    const state: ProbeState = { inFlight: true, starvedLogged: prev?.starvedLogged ?? false, ...(prev?.last ? { last: prev.last } : {}) };
    this.probes.set(a.id, state);
    void prober.probe(a.address, this.rules.probeTimeoutMs).then(
      (answer) => this.probeAnswered(a.id, state, answer, now),
      () => this.probeAnswered(a.id, state, "no-answer", now),
    );
  }

  private probeAnswered(agentId: string, state: ProbeState, answer: ProbeAnswer, startedAt: number): void {
    if (this.probes.get(agentId) !== state) return; // a heartbeat (or a join) ended this silence meanwhile
    state.inFlight = false;
    state.last = { answer, startedAt };
    this.log.debug({ agentId, answer, probeMs: this.clock() - startedAt }, "silent agent probed");
    if (answer === "answered" || this.stopped) return;
    this.flushTouches();
    const a = this.store.agents.liveness(agentId);
    if (a?.state !== "online") return;
    try {
      this.judgeSilence(a, this.clock());
    } catch (err) {
      this.log.error({ err, agentId }, "judging a probed agent failed");
    }
  }

  /** Time since `since` that counts as silence: from the coordinator's start, less the last outage of its NATS connection; 0 while it is down. */
  private countedSilence(since: number, now: number): number {
    if (this.busDownSince !== undefined) return 0;
    const from = Math.max(since, this.graceFrom);
    const o = this.lastOutage;
    const overlap = o ? Math.max(0, Math.min(now, o.to) - Math.max(from, o.from)) : 0;
    return now - from - overlap;
  }

  /** The coordinator's NATS connection dropped (its nats-server died or restarts): heartbeats cannot arrive. */
  busDown(): void {
    if (this.busDownSince !== undefined) return;
    this.busDownSince = this.clock();
    this.log.warn({}, "NATS connection down: agents are not timed out until it is back");
  }

  /**
   * The coordinator's NATS connection is back. The outage does not count as anyone's silence: an agent
   * silent for 2 s before it times out 2 s after it. (A fresh full timeout from here, tried first, delayed
   * the loss of agents whose links were cut just before a nats-server kill by the whole outage plus 4 s.)
   */
  busBack(): void {
    const now = this.clock();
    if (this.busDownSince === undefined) return;
    this.lastOutage = { from: this.busDownSince, to: now };
    // Work placed on them before may have gone to pulls that died with the server or the connection (onHeardAfterGap).
    for (const id of this.heardAt.keys()) this.heardBeforeOutage.add(id);
    this.log.info({ downMs: now - this.busDownSince }, "NATS connection back: the outage does not count as agents' silence");
    this.busDownSince = undefined;
  }

  private goOffline(a: AgentLiveness, now: number, msg: string, reason: string): void {
    this.store.agents.transition(a.id, "offline");
    this.live.delete(a.id);
    this.heardAt.delete(a.id); // its placed work is revoked now (ClaimService): nothing to place again when it is back
    this.heardBeforeOutage.delete(a.id);
    this.closedAt.delete(a.id);
    this.log.warn({ agentId: a.id, name: a.name, silentMs: now - a.lastSeen }, msg);
    this.claims.loseAgentAttempts(a.id, reason);
    this.hooks.onOffline?.(a, now - a.lastSeen);
  }

  /**
   * An online agent whose heartbeats stopped naming one of its running attempts
   * is no longer working on it (its upload broke, or the coordinator restarted
   * under it): that attempt is lost and its chunk requeued. An agent silent as a
   * whole since it last named the attempt is judged by its own silence instead
   * (judgeSilence): a starved agent kept online keeps its attempt. An attempt
   * from before this coordinator started, which two heartbeats since the start
   * did not name, is lost at once: its claim was answered before the restart, so
   * there is no race with the answer to wait out (its upload broke with the
   * restart and its failure report found no coordinator).
   */
  private sweepOrphanedAttempts(now: number, lastSeen: ReadonlyMap<string, number>): void {
    const limit = this.policy.agentTimeoutMs + this.policy.heartbeatMs;
    for (const att of this.store.attempts.runningOnOnlineAgents()) {
      if (!this.attemptSeen.has(att.id) && att.createdAt < this.graceFrom && (this.heardSinceStart.get(att.agentId) ?? 0) >= 2) {
        this.claims.loseAttempt(att.id, `agent ${att.agentName} did not name attempt ${att.id} in its heartbeats since the coordinator started`);
        continue;
      }
      const seen = this.attemptSeen.get(att.id) ?? att.createdAt;
      if (this.countedSilence(seen, now) <= limit) continue;
      if ((lastSeen.get(att.agentId) ?? 0) - seen < this.policy.heartbeatMs) continue; // no heartbeat since: the agent is silent, not forgetting it
      this.attemptSeen.delete(att.id);
      this.claims.loseAttempt(att.id, `agent ${att.agentName} is no longer working on attempt ${att.id}`);
    }
    if (this.attemptSeen.size > 10_000) {
      for (const [id, t] of this.attemptSeen) if (now - t > limit * 10) this.attemptSeen.delete(id);
    }
  }

  start(): void {
    const period = Math.max(100, Math.floor(this.policy.heartbeatMs / 2));
    // The sweep runs after the event loop's poll phase (setImmediate), so that heartbeats already waiting
    // in the socket are read first: after a stall of this process they would otherwise look late.
    this.timer = setInterval(() => {
      setImmediate(() => {
        if (this.timer === undefined) return; // stopped meanwhile
        try {
          this.sweep();
        } catch (err) {
          this.log.error({ err }, "agent sweep failed");
        }
      });
    }, period);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.flushTouches();
  }

  /**
   * Heartbeats' last_seen is written in batches, one transaction each (an
   * autocommit per heartbeat was one fsync per agent per second): kept here
   * and written by the sweep before it judges anyone, and by a timer at most
   * touchFlushMs (a quarter heartbeat) after a heartbeat, so that readers of
   * the row (listings, the mDNS goodbye's check) lag by no more than that.
   */
  private recordTouch(agentId: string, now: number): void {
    this.touches.set(agentId, now);
    if (this.touchTimer !== undefined) return;
    this.touchTimer = setTimeout(() => this.flushTouches(), Math.max(50, Math.floor(this.policy.heartbeatMs / 4)));
    this.touchTimer.unref();
  }

  private flushTouches(): void {
    if (this.touchTimer !== undefined) clearTimeout(this.touchTimer);
    this.touchTimer = undefined;
    if (this.touches.size === 0) return;
    const batch = new Map(this.touches);
    this.touches.clear();
    try {
      this.store.agents.touchMany(batch);
    } catch (err) {
      this.log.error({ err, agents: batch.size }, "writing heartbeats' last_seen failed");
    }
  }
}
