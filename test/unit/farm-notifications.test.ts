import { test } from "node:test";
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { farmNotifications } from "../../coordinator/notify/farm-notifications.ts";
import { WebhookOutbox } from "../../coordinator/notify/webhook-outbox.ts";
import { WebhookOutboxTable } from "../../coordinator/store/webhook-outbox-table.ts";
import { compileWebhooks } from "../../coordinator/config/webhook-config.ts";
import { insertAgent, insertChunks, insertJob, openTempStore } from "../helpers/store-fixture.ts";
import { manualClock } from "../helpers/manual-clock.ts";
import { silentLogger } from "../../shared/log.ts";

/** The outbox is not started: rows are only queued, nothing is sent. */
function setup(t: Parameters<typeof openTempStore>[0], events?: Array<"job.done" | "job.failed" | "job.blocked" | "agent.offline">) {
  const { store } = openTempStore(t);
  const clock = manualClock();
  const config = compileWebhooks({
    webhooks: [
      { url: "http://127.0.0.1:9/a", secret: "0123456789abcdef", ...(events ? { events } : {}) },
      { url: "http://127.0.0.1:9/b", secret: "0123456789abcdef" },
    ],
    webhookRetryMs: 100,
    webhookRetryMaxMs: 1000,
    webhookMaxAttempts: 3,
  });
  const table = new WebhookOutboxTable(store.db);
  const outbox = new WebhookOutbox({ table, config, clock: clock.now, log: silentLogger() });
  const changes = new EventEmitter();
  const n = farmNotifications(store, outbox, changes);
  t.after(() => n.stop());
  return { store, table, changes, n };
}

test("a job that ends done is queued once per webhook, however often it is seen", (t) => {
  const { store, table, changes } = setup(t);
  const job = insertJob(store, { state: "running" });
  insertChunks(store, job.id, [[0, 9]]);
  changes.emit("changed", job.id);
  assert.equal(table.recent(10).length, 0, "running: nothing to say");
  store.jobs.transition(job.id, "done", 2_000);
  changes.emit("changed", job.id);
  changes.emit("changed", job.id);
  const rows = table.recent(10);
  assert.deepEqual(rows.map((r) => [r.event, r.url, r.state]).sort(), [
    ["job.done", "http://127.0.0.1:9/a", "pending"],
    ["job.done", "http://127.0.0.1:9/b", "pending"],
  ]);
  const body = JSON.parse(rows[0]!.body) as { event: string; data: { jobId: string; framesTotal: number } };
  assert.equal(body.event, "job.done");
  assert.equal(body.data.jobId, job.id);
  assert.equal(body.data.framesTotal, 10);
});

test("failed, blocked and offline go only to the webhooks that asked for them", (t) => {
  const { store, table, changes, n } = setup(t, ["job.failed"]);
  const failed = insertJob(store, { state: "running" });
  store.jobs.transition(failed.id, "failed", 2_000, "1 chunk(s) failed");
  changes.emit("changed", failed.id);
  const held = insertJob(store);
  n.jobHeld(held.id, "no agent has the model");
  n.jobHeld(held.id, "no agent has the model");
  const agent = insertAgent(store, { id: "agt_gone" });
  n.agentOffline(agent, 12_000);
  const rows = table.recent(20).map((r) => `${r.event} ${r.url.slice(-1)}`).sort();
  assert.deepEqual(rows, ["agent.offline b", "job.blocked b", "job.failed a", "job.failed b"]);
  const blocked = table.recent(20).find((r) => r.event === "job.blocked");
  assert.match(blocked?.body ?? "", /no agent has the model/);
});
