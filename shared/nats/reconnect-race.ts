import type { NatsConnection } from "@nats-io/nats-core";

/**
 * Why this file exists: a request in flight when the NATS connection drops is
 * lost with it. Its answer never comes, even once the client has reconnected
 * (the restarted server, or the other cluster node, never saw it or answered
 * into a connection that was gone), so the caller waits out the whole timeout:
 * 5 s for a JetStream publish, measured with the server back after 0.6 s. In
 * the soak that held a dispatch pass, and the lost chunk it was to place, 3.7 s
 * after the bus was back.
 *
 * `run()` rejects such a call as soon as the connection is back, with an error
 * that retryDuringElection takes for transient, so it is sent again at once.
 * Only for calls that are safe to repeat (a publish with a message id, an ack,
 * an API info or create); the abandoned call's own late answer is ignored.
 */
export class ReconnectRace {
  private readonly waiting = new Set<(err: Error) => void>();

  constructor(nc: NatsConnection) {
    void (async () => {
      for await (const s of nc.status()) if (s.type === "reconnect") this.reconnected();
    })().catch(() => undefined);
  }

  run<T>(call: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const abandon = (err: Error): void => reject(err);
      this.waiting.add(abandon);
      let sent: Promise<T>;
      try {
        sent = call();
      } catch (err) {
        this.waiting.delete(abandon);
        throw err;
      }
      sent.then(
        (v) => {
          this.waiting.delete(abandon);
          resolve(v);
        },
        (err: unknown) => {
          this.waiting.delete(abandon);
          reject(err as Error);
        },
      );
    });
  }

  private reconnected(): void {
    const waiting = [...this.waiting];
    this.waiting.clear();
    for (const abandon of waiting) abandon(new ReconnectedWhileInFlight());
  }
}

export class ReconnectedWhileInFlight extends Error {
  constructor() {
    super("NATS connection came back while the call was in flight (its answer is lost with the old connection)");
    this.name = "ReconnectedWhileInFlight";
  }
}
