import type { NatsConnection } from "@nats-io/nats-core";
import { encodeJson, type Heartbeat } from "../../shared/protocol/messages.ts";

/** Publishes the agent's heartbeat every `periodMs` on <p>.hb.<agentId> (core NATS, fire and forget). */
export class HeartbeatPublisher {
  private timer: NodeJS.Timeout | undefined;
  private seq = 0;
  /** Between a disconnect and the reconnect: no heartbeat is published (see beat). */
  private away = false;

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
      for await (const s of this.nc.status()) {
        if (s.type === "disconnect") this.away = true;
        if (s.type !== "reconnect") continue;
        this.away = false;
        if (this.timer !== undefined) this.beat();
      }
    })().catch(() => undefined);
  }

  /**
   * Publishes one heartbeat now. Not while disconnected: nats.js would buffer it and send it on the next
   * connection, saying what the agent was doing before and naming no connection (nats.js holds no server INFO
   * while disconnected). A heartbeat that names none makes the coordinator count the close of the connection
   * that dropped, which the server reports once the link is back, as the agent's (agent-registry.ts
   * connectionClosed). The reconnect's heartbeat says what is true then.
   */
  beat(): void {
    if (this.nc.isClosed() || this.away) return;
    try {
      this.nc.publish(this.subject, encodeJson({ ...this.snapshot(), seq: this.seq++, sentAtMs: Date.now() }));
    } catch {
      // the connection closing: the coordinator's timeout decides
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
