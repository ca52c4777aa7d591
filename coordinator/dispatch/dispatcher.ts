import type { Store } from "../store/store.ts";
import type { Clock } from "../../shared/clock.ts";
import type { Logger } from "../../shared/log.ts";
import type { WorkMessage } from "../../shared/protocol/messages.ts";
import type { FarmPolicy } from "./farm-policy.ts";
import { runDispatchPass } from "../scheduling/dispatch-pass.ts";
import { defaultSchedulingDeps, type SchedulingDeps } from "../scheduling/scheduling-deps.ts";
import type { LostWorkFirst } from "./lost-work-first.ts";
import { takeSnapshot } from "../scheduling/farm-snapshot.ts";
import { afterPass, pickNext } from "../scheduling/pick-next.ts";
import type { DispatchPlan, FarmSnapshot } from "../scheduling/plan-dispatch.ts";
import type { SpeedBook } from "../scheduling/speed-book.ts";

/** Pending chunks read per pool job for picks, beyond the pool's room: enough for the agents asking within one kept snapshot. */
const PICK_READ = 16;
/** Picks come from a snapshot at most this old (ms): the last pass's, or one taken for them. */
const PICK_SNAPSHOT_MS = 250;

/** The transport edge of dispatch (JetStream in production). */
export interface WorkPublisher {
  /** Resolves with the message's stream sequence where the transport has one. */
  publish(msg: WorkMessage, agentId?: string): Promise<number | void>;
  /** Removes a published message whose chunk was taken back (optional). */
  retract?(seq: number): Promise<void>;
}

/** Default least time between the starts of two dispatch passes asked for by kick() (kickNow() does not wait). */
export const DEFAULT_MIN_PASS_GAP_MS = 20;

/** While the pool is held after a restart, the next pass comes this long after a held one. */
const HOLD_RETRY_MS = 100;

/**
 * Moves pending chunks into the work queue, highest priority first, keeping at
 * most `queueDepthPerAgent` messages waiting per online agent so that a job
 * submitted later with a higher priority overtakes the backlog. Runs on every
 * change (kick) and on a slow tick as a safety net.
 *
 * Passes are coalesced with a leading edge: a kick after a quiet spell runs a
 * pass on the next turn of the event loop; kicks within `minPassGapMs` of the
 * last pass's start share one pass at the end of the gap. The queue holds
 * `queueDepthPerAgent` messages per agent, so an agent never waits on that
 * gap; new work (submit, resume, priority: kickNow()) is never delayed by it.
 */
export class Dispatcher {
  private running = false;
  /** The pass asked for and not started yet: on the next turn (immediate) or at the end of the gap (timeout). */
  private scheduled: { immediate: NodeJS.Immediate } | { timeout: NodeJS.Timeout } | undefined;
  private again = false;
  private urgentAgain = false;
  private lastPassAt = -Infinity;
  private timer: NodeJS.Timeout | undefined;
  /** How many more chunks may start, given how many wait queued (the power budget); none: no limit. */
  private startLimit: ((queued: number, wanted: number) => number) | undefined;
  /** The snapshot claims for the next chunk are picked from (pickSnapshot). */
  private picksFrom: { at: number; snapshot: FarmSnapshot; speeds: SpeedBook; handed: Set<string> } | undefined;
  /** Claims for the next chunk have been asked: passes read pending chunks beyond the pool's room for them. */
  private answering = false;
  /** The next pass asked for while the pool is held after a restart. */
  private holdRetry: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: Store,
    private readonly publisher: WorkPublisher,
    private readonly policy: FarmPolicy,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly minPassGapMs = DEFAULT_MIN_PASS_GAP_MS,
    /** Places chunks requeued after a lost attempt before each pass, ahead of the pool (lost-work-first.ts). */
    private readonly lostFirst?: LostWorkFirst,
  ) {}

  start(tickMs = 1000): void {
    this.timer = setInterval(() => this.kick(), tickMs);
    this.timer.unref();
    this.kick();
  }

  /** What the scheduler knows beyond the store (heartbeats, model needs, speeds, time zone); see coordinator/scheduling/. */
  private scheduling: SchedulingDeps = defaultSchedulingDeps();

  useScheduling(deps: Partial<SchedulingDeps>): void {
    this.scheduling = { ...this.scheduling, ...deps };
  }

  /** Sets the start limit (coordinator/telemetry/farm-power-gate.ts applies the studio power budget). */
  limitStarts(limit: (queued: number, wanted: number) => number): void {
    this.startLimit = limit;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    clearTimeout(this.holdRetry);
    this.holdRetry = undefined;
    this.unschedule();
  }

  /**
   * Asks for a dispatch pass (a chunk finished or was handed back, an agent
   * joined). The pass runs on the next turn of the event loop, or at the end
   * of the gap after the last pass's start: the kicks of one burst (commits,
   * claims, heartbeats arriving together) share one pass and one snapshot;
   * kicks while a pass runs coalesce into one more pass after it.
   */
  kick(): void {
    this.request(false);
  }

  /** Asks for a pass without waiting for the gap: new work (a submitted or resumed job, a new priority) goes out at once. */
  kickNow(): void {
    this.request(true);
  }

  private request(urgent: boolean): void {
    if (this.running) {
      this.again = true;
      this.urgentAgain ||= urgent;
      return;
    }
    const wait = urgent ? 0 : this.lastPassAt + this.minPassGapMs - performance.now();
    if (this.scheduled !== undefined) {
      // A pass waiting for the gap is brought forward by an urgent kick; otherwise the scheduled pass serves this kick too.
      if (!urgent || "immediate" in this.scheduled) return;
      this.unschedule();
    }
    const run = (): void => {
      this.scheduled = undefined;
      this.runPass();
    };
    this.scheduled = wait > 0 ? { timeout: setTimeout(run, wait) } : { immediate: setImmediate(run) };
  }

  private unschedule(): void {
    const s = this.scheduled;
    if (s === undefined) return;
    if ("timeout" in s) clearTimeout(s.timeout);
    else clearImmediate(s.immediate);
    this.scheduled = undefined;
  }

  private runPass(): void {
    this.running = true;
    this.lastPassAt = performance.now();
    void this.pass()
      .catch((err: unknown) => this.log.error({ err }, "dispatch pass failed"))
      .finally(() => {
        this.running = false;
        if (this.again) {
          const urgent = this.urgentAgain;
          this.again = false;
          this.urgentAgain = false;
          this.request(urgent);
        }
      });
  }

  /**
   * The chunks an agent's claim for its next chunk may be answered with, best first (pick-next.ts: the pass's
   * own placement over the same snapshot); none while lost work waits to be placed first, or the pool is held
   * for it after a restart (holdsPool), or the power budget lets no more start.
   */
  nextFor(agentId: string, max: number): string[] {
    if ((this.lostFirst?.waiting ?? 0) > 0 || this.lostFirst?.holdsPool()) return [];
    const kept = this.pickSnapshot();
    const picks = pickNext(agentId, kept.snapshot, kept.speeds, this.scheduling.scheduling, max);
    // The claim takes the first pick that is still pending: that one leaves the kept snapshot's pending list.
    if (picks[0] !== undefined) kept.handed.add(picks[0]);
    return picks;
  }

  /**
   * The snapshot picks are made from: the last pass's, as that pass left the farm (pick-next.ts afterPass),
   * taken afresh only when no pass ran for PICK_SNAPSHOT_MS. A snapshot taken per claim cost 0.6 ms (under
   * load), as much as the publish it saves; every commit kicks a pass anyway. New work (kickNow) runs a pass
   * at once. Chunks handed out from it are left out of its pending list; the claim's transaction checks
   * again whatever may have changed since (the chunk still pending, the agent's blocklist, the job's state).
   */
  private pickSnapshot(): { snapshot: FarmSnapshot; speeds: SpeedBook; handed: Set<string> } {
    const at = performance.now();
    let kept = this.picksFrom;
    this.answering = true;
    if (kept === undefined || at - kept.at > PICK_SNAPSHOT_MS) {
      const speeds = this.scheduling.speeds.refresh(this.store);
      const { snapshot } = takeSnapshot({ ...this.scheduling, store: this.store, policy: this.policy }, speeds, this.clock(), PICK_READ);
      if (this.startLimit) snapshot.limit = Math.max(0, this.startLimit(snapshot.poolQueued + snapshot.waiting.length, 1));
      this.picksFrom = kept = { at, snapshot, speeds, handed: new Set() };
    } else if (kept.handed.size > 0) {
      kept.snapshot = { ...kept.snapshot, pending: kept.snapshot.pending.filter((c) => !kept!.handed.has(c.id)), limit: Math.max(0, kept.snapshot.limit - kept.handed.size) };
      kept.handed.clear();
    }
    return kept;
  }

  /** One scheduling pass: coordinator/scheduling/dispatch-pass.ts (snapshot, pure plan, one transaction, publishes). */
  private async pass(): Promise<void> {
    await this.lostFirst?.place(this.scheduling.published, this.scheduling.onPlaced);
    // After a restart, no fresh pool chunk goes out before the lost work is placed (lost-work-first.ts holdsPool, bounded); asked again shortly.
    if (this.lostFirst?.holdsPool()) {
      this.holdRetry ??= setTimeout(() => {
        this.holdRetry = undefined;
        this.kick();
      }, HOLD_RETRY_MS).unref();
      return;
    }
    await runDispatchPass({
      ...this.scheduling,
      store: this.store,
      publisher: this.publisher,
      policy: this.policy,
      clock: this.clock,
      log: this.log,
      ...(this.startLimit ? { startLimit: this.startLimit } : {}),
      ...(this.answering ? { pickRead: PICK_READ, onPlanned: (s: FarmSnapshot, plan: DispatchPlan) => (this.picksFrom = { at: performance.now(), snapshot: afterPass(s, plan), speeds: this.scheduling.speeds.book, handed: new Set() }) } : {}),
    });
  }
}
