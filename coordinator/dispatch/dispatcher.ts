import type { Store } from "../store/store.ts";
import type { Clock } from "../../shared/clock.ts";
import type { Logger } from "../../shared/log.ts";
import type { WorkMessage } from "../../shared/protocol/messages.ts";
import type { FarmPolicy } from "./farm-policy.ts";
import { runDispatchPass } from "../scheduling/dispatch-pass.ts";
import { defaultSchedulingDeps, type SchedulingDeps } from "../scheduling/scheduling-deps.ts";

/** The transport edge of dispatch (JetStream in production). */
export interface WorkPublisher {
  /** Resolves with the message's stream sequence where the transport has one. */
  publish(msg: WorkMessage, agentId?: string): Promise<number | void>;
  /** Removes a published message whose chunk was taken back (optional). */
  retract?(seq: number): Promise<void>;
}

/**
 * Moves pending chunks into the work queue, highest priority first, keeping at
 * most `queueDepthPerAgent` messages waiting per online agent so that a job
 * submitted later with a higher priority overtakes the backlog. Runs on every
 * change (kick) and on a slow tick as a safety net.
 */
export class Dispatcher {
  private running = false;
  private scheduled = false;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  /** How many more chunks may start, given how many wait queued (the power budget); none: no limit. */
  private startLimit: ((queued: number, wanted: number) => number) | undefined;

  constructor(
    private readonly store: Store,
    private readonly publisher: WorkPublisher,
    private readonly policy: FarmPolicy,
    private readonly clock: Clock,
    private readonly log: Logger,
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
  }

  /**
   * Asks for a dispatch pass. The pass runs on the next turn of the event
   * loop, so the kicks of one burst (claims, commits, heartbeats arriving
   * together) share one pass and one snapshot; kicks while a pass runs
   * coalesce into one more pass after it.
   */
  kick(): void {
    if (this.running || this.scheduled) {
      if (this.running) this.again = true;
      return;
    }
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.runPass();
    });
  }

  private runPass(): void {
    this.running = true;
    void this.pass()
      .catch((err: unknown) => this.log.error({ err }, "dispatch pass failed"))
      .finally(() => {
        this.running = false;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** One scheduling pass: coordinator/scheduling/dispatch-pass.ts (snapshot, pure plan, one transaction, publishes). */
  private async pass(): Promise<void> {
    await runDispatchPass({
      ...this.scheduling,
      store: this.store,
      publisher: this.publisher,
      policy: this.policy,
      clock: this.clock,
      log: this.log,
      ...(this.startLimit ? { startLimit: this.startLimit } : {}),
    });
  }
}
