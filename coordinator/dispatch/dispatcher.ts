import type { Store } from "../store/store.ts";
import type { Clock } from "../../shared/clock.ts";
import type { Logger } from "../../shared/log.ts";
import { newId } from "../../shared/ids.ts";
import type { WorkMessage } from "../../shared/protocol/messages.ts";
import type { FarmPolicy } from "./farm-policy.ts";

/** The transport edge of dispatch (JetStream in production). */
export interface WorkPublisher {
  publish(msg: WorkMessage, agentId?: string): Promise<void>;
}

/**
 * Moves pending chunks into the work queue, highest priority first, keeping at
 * most `queueDepthPerAgent` messages waiting per online agent so that a job
 * submitted later with a higher priority overtakes the backlog. Runs on every
 * change (kick) and on a slow tick as a safety net.
 */
export class Dispatcher {
  private running = false;
  private again = false;
  private timer: NodeJS.Timeout | undefined;

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

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Asks for a dispatch pass; coalesces while one runs. */
  kick(): void {
    if (this.running) {
      this.again = true;
      return;
    }
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

  private async pass(): Promise<void> {
    const online = this.store.agents.list().filter((a) => a.state === "online").length;
    const depth = Math.max(1, online) * this.policy.queueDepthPerAgent;
    const room = depth - this.store.chunks.countInState("queued");
    if (room <= 0) return;
    for (const chunk of this.store.chunks.nextPending(room)) {
      const dispatchId = newId("dsp", this.clock());
      this.store.chunks.transition(chunk.id, "queued", this.clock(), { dispatchId });
      try {
        await this.publisher.publish({ chunkId: chunk.id, jobId: chunk.jobId, dispatchId });
      } catch (err) {
        this.log.warn({ err, chunkId: chunk.id }, "publish failed; chunk back to pending");
        const now = this.store.chunks.get(chunk.id);
        if (now?.state === "queued" && now.dispatchId === dispatchId) this.store.chunks.transition(chunk.id, "pending", this.clock(), { dispatchId: null });
        return;
      }
    }
  }
}
