/**
 * Delivers notifications to the configured webhooks from the store's outbox:
 * `notify()` writes one row per matching webhook, a bounded loop POSTs the due
 * rows (JSON, signed), and a failed try is retried with exponential backoff
 * until it succeeds or runs out of tries. Rows survive a restart, so a
 * delivery in backoff when the coordinator stops is made after it starts.
 *
 * Rows are only ever added by notify() in this process, so the loop sleeps
 * while none is pending (no webhook configured, or all delivered): one pass
 * at start (a restart's leftovers), then a pass only after a notify() or
 * when a retry falls due. It used to read the store every second regardless.
 */
import type { Clock } from "../../shared/clock.ts";
import type { Logger } from "../../shared/log.ts";
import { newId } from "../../shared/ids.ts";
import type { WebhookConfig, WebhookEvent } from "../config/webhook-config.ts";
import type { OutboxRow, WebhookOutboxTable } from "../store/webhook-outbox-table.ts";
import { SIGNATURE_HEADER, signWebhook } from "./webhook-signature.ts";

/** One try's limit; a receiver slower than this counts as failed and is retried. */
const POST_TIMEOUT_MS = 5000;
/** Rows sent per pass, so one pass stays bounded. */
const BATCH = 20;
/** Longest sleep while a delivery is pending (the next retry's time is read again after it). */
const PENDING_POLL_MS = 1000;

export interface WebhookOutboxOptions {
  table: WebhookOutboxTable;
  config: WebhookConfig;
  clock: Clock;
  log: Logger;
}

export class WebhookOutbox {
  private timer: NodeJS.Timeout | undefined;
  private pass: Promise<void> | undefined;
  private stopped = true;
  private readonly abort = new AbortController();

  constructor(private readonly o: WebhookOutboxOptions) {}

  get configured(): boolean {
    return this.o.config.targets.length > 0;
  }

  /**
   * Queues `event` for every webhook that wants it. `key` names the occurrence
   * (a job id, an agent id and time): the same key is queued once per webhook.
   * Returns the ids of the rows added.
   */
  notify(event: WebhookEvent, key: string, data: Record<string, unknown>): string[] {
    const now = this.o.clock();
    const added: string[] = [];
    for (const t of this.o.config.targets) {
      if (!t.events.has(event)) continue;
      const id = newId("whk", now);
      const body = JSON.stringify({ id, event, at: new Date(now).toISOString(), data });
      if (this.o.table.add({ id, dedupeKey: `${event}:${key}:${t.url}`, event, url: t.url, body, createdAt: now })) added.push(id);
    }
    if (added.length > 0) {
      this.o.log.info({ event, key, deliveries: added.length }, "notification queued");
      this.wake();
    }
    return added;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.wake();
  }

  /** Runs one pass soon (after a notify, or when the next retry is due). */
  private wake(delayMs = 0): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (this.pass) return this.wake(50);
      this.pass = this.runPass().finally(() => {
        this.pass = undefined;
        const next = this.o.table.nextDue();
        // Nothing pending: sleep until notify() wakes the loop.
        if (next !== undefined) this.wake(Math.min(PENDING_POLL_MS, Math.max(0, next - this.o.clock())));
      });
    }, delayMs);
  }

  private async runPass(): Promise<void> {
    const rows = this.o.table.due(this.o.clock(), BATCH);
    await Promise.all(rows.map((r) => this.deliver(r)));
  }

  private async deliver(r: OutboxRow): Promise<void> {
    const target = this.o.config.targets.find((t) => t.url === r.url);
    if (!target) {
      // The webhook was taken out of the config since: nothing to sign with.
      this.o.table.retry(r.id, "webhook no longer configured", null);
      return;
    }
    let error: string | undefined;
    try {
      const res = await fetch(r.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-nightshift-event": r.event,
          "x-nightshift-delivery": r.id,
          [SIGNATURE_HEADER]: signWebhook(target.secret, r.body, this.o.clock()),
        },
        body: r.body,
        redirect: "manual",
        signal: AbortSignal.any([AbortSignal.timeout(POST_TIMEOUT_MS), this.abort.signal]),
      });
      await res.body?.cancel();
      if (res.status < 200 || res.status >= 300) error = `HTTP ${res.status}`;
    } catch (err) {
      error = (err as Error).message;
    }
    if (this.abort.signal.aborted) return; // stopping: the row stays as it was and is tried after the restart
    if (error === undefined) {
      this.o.table.delivered(r.id, this.o.clock());
      this.o.log.info({ id: r.id, event: r.event, url: r.url, attempt: r.attempts + 1 }, "notification delivered");
      return;
    }
    const tries = r.attempts + 1;
    const c = this.o.config;
    const nextAt = tries >= c.maxAttempts ? null : this.o.clock() + Math.min(c.retryMaxMs, c.retryMs * 2 ** (tries - 1));
    this.o.table.retry(r.id, error, nextAt);
    this.o.log.warn({ id: r.id, event: r.event, url: r.url, attempt: tries, err: error, retryAtMs: nextAt }, nextAt === null ? "notification failed, giving up" : "notification failed, will retry");
  }

  /** The deliveries of the given rows, once none is pending or after waitMs. */
  async settle(ids: readonly string[], waitMs: number): Promise<OutboxRow[]> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const rows = ids.map((id) => this.o.table.get(id)).filter((r): r is OutboxRow => r !== undefined);
      if (rows.every((r) => r.state !== "pending") || Date.now() >= deadline) return rows;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  recent(limit = 50): OutboxRow[] {
    return this.o.table.recent(limit);
  }

  /** Stops the loop; a try in flight is abandoned and made again after a restart. Safe to call twice. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.abort.abort();
    await this.pass?.catch(() => undefined);
  }
}
