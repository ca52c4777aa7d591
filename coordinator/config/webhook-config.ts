/** The `webhooks:` part of the coordinator config: where notifications go, with what secret, and how deliveries are retried. */
import { z } from "zod";

export const WEBHOOK_EVENTS = ["job.done", "job.failed", "job.blocked", "agent.offline"] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number] | "webhook.test";

const webhookSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/ }),
  /** Shared with the receiver, which checks the X-Nightshift-Signature header with it. */
  secret: z.string().min(16, "at least 16 characters"),
  /** Which events this webhook gets; default all. */
  events: z.array(z.enum(WEBHOOK_EVENTS)).min(1).optional(),
});

export const webhookConfigFields = {
  webhooks: z.array(webhookSchema).default([]),
  /** The first retry waits this long; each next one twice as long, up to webhookRetryMaxMs. */
  webhookRetryMs: z.number().int().min(10).max(3_600_000).default(5000),
  webhookRetryMaxMs: z.number().int().min(10).max(86_400_000).default(15 * 60_000),
  /** Tries of one delivery before it is marked failed. */
  webhookMaxAttempts: z.number().int().min(1).max(100).default(12),
};

export interface WebhookTarget {
  url: string;
  secret: string;
  events: ReadonlySet<WebhookEvent>;
}

export interface WebhookConfig {
  targets: WebhookTarget[];
  retryMs: number;
  retryMaxMs: number;
  maxAttempts: number;
}

export function compileWebhooks(c: {
  webhooks: Array<z.infer<typeof webhookSchema>>;
  webhookRetryMs: number;
  webhookRetryMaxMs: number;
  webhookMaxAttempts: number;
}): WebhookConfig {
  return {
    targets: c.webhooks.map((w) => ({ url: w.url, secret: w.secret, events: new Set<WebhookEvent>([...(w.events ?? WEBHOOK_EVENTS), "webhook.test"]) })),
    retryMs: c.webhookRetryMs,
    retryMaxMs: Math.max(c.webhookRetryMs, c.webhookRetryMaxMs),
    maxAttempts: c.webhookMaxAttempts,
  };
}
