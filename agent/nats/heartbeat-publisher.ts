import type { NatsConnection } from "@nats-io/nats-core";
import { encodeJson, type Heartbeat } from "../../shared/protocol/messages.ts";

/** Publishes the agent's heartbeat every `periodMs` on <p>.hb.<agentId> (core NATS, fire and forget). */
export class HeartbeatPublisher {
  private timer: NodeJS.Timeout | undefined;
  private seq = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly subject: string,
    private readonly periodMs: number,
    private readonly snapshot: () => Omit<Heartbeat, "seq" | "sentAtMs">,
  ) {}

  start(): void {
    this.beat();
    this.timer = setInterval(() => this.beat(), this.periodMs);
    this.timer.unref();
    // Back on NATS (its server restarted, with a coordinator restart or alone): heard at once, not up to a period
    // later. A coordinator back after the agents asks them instead (heartbeat-now).
    void (async () => {
      for await (const s of this.nc.status()) if (s.type === "reconnect" && this.timer !== undefined) this.beat();
    })().catch(() => undefined);
  }

  beat(): void {
    if (this.nc.isClosed()) return;
    try {
      this.nc.publish(this.subject, encodeJson({ ...this.snapshot(), seq: this.seq++, sentAtMs: Date.now() }));
    } catch {
      // disconnected: the client buffers or drops; the coordinator's timeout decides
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
