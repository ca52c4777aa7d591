import { setTimeout as sleep } from "node:timers/promises";
import { ReconnectedWhileInFlight } from "./reconnect-race.ts";

/**
 * Retries one JetStream call through a leader election. When a clustered
 * stream's or consumer's leader dies, the others elect a new one; meanwhile
 * (about 6 s measured on loopback, R3) publishes, acks and API calls fail
 * with timeouts, "no responders" or "JetStream system temporarily
 * unavailable". Callers pass only calls that are safe to repeat: a publish
 * with a message id (deduplicated by the stream), an ack (idempotent), an
 * info or create. Bounded in attempts and time; the last error is thrown.
 */
export interface ElectionRetry {
  /** Give up after this long (default 20 s: several elections' worth). */
  readonly withinMs?: number;
  /** Called before each retry (logging). */
  readonly onRetry?: (attempt: number, err: Error) => void;
  /** Stop retrying (shutting down). */
  readonly stopped?: () => boolean;
}

const MAX_ATTEMPTS = 60;

export async function retryDuringElection<T>(call: () => Promise<T>, o: ElectionRetry = {}): Promise<T> {
  const deadline = Date.now() + (o.withinMs ?? 20_000);
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      const e = err as Error;
      if (attempt >= MAX_ATTEMPTS || Date.now() >= deadline || o.stopped?.() === true || !isTransient(e)) throw e;
      o.onRetry?.(attempt, e);
      // Lost with a connection that is back now (reconnect-race.ts): sent again at once.
      if (!(e instanceof ReconnectedWhileInFlight)) await sleep(Math.min(1000, 100 * attempt));
    }
  }
}

/** Errors that a later try can cure; a refusal (permissions, bad request, payload too big) is not one. */
export function isTransient(err: Error): boolean {
  const text = `${err.name} ${err.message} ${(err as { code?: unknown }).code ?? ""}`;
  if (/permission|authorization|maximum payload|bad request|invalid|closed connection|connection closed/i.test(text)) return false;
  return true;
}
