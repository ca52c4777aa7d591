/**
 * The webhook outbox's loop sleeps while nothing is pending: one pass at
 * start, then a pass only when notify() queues a delivery or a retry falls
 * due (it read the store every second before, webhook or not). A real SQLite
 * store and a receiver on 127.0.0.1; the table is wrapped to count the
 * loop's reads of the store.
 */
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { test, type TestContext } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { compileWebhooks } from "../../coordinator/config/webhook-config.ts";
import { WebhookOutbox } from "../../coordinator/notify/webhook-outbox.ts";
import { WebhookOutboxTable } from "../../coordinator/store/webhook-outbox-table.ts";
import { eventually } from "../helpers/eventually.ts";
import { openTempStore } from "../helpers/store-fixture.ts";
import { testLog } from "../helpers/test-log.ts";

/** The outbox table with its loop's two reads (due rows, next retry time) counted. */
class CountingTable extends WebhookOutboxTable {
  dueCalls = 0;
  nextDueCalls = 0;
  override due(now: number, limit: number): ReturnType<WebhookOutboxTable["due"]> {
    this.dueCalls++;
    return super.due(now, limit);
  }
  override nextDue(): number | undefined {
    this.nextDueCalls++;
    return super.nextDue();
  }
}

/** A receiver on loopback answering `status()` to each POST; counts what it got. */
async function receiver(t: TestContext, status: () => number): Promise<{ url: string; got: string[] }> {
  const got: string[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      got.push(body);
      res.writeHead(status()).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, got };
}

function outboxWith(t: TestContext, webhooks: Array<{ url: string; secret: string }>, retryMs = 5000): { outbox: WebhookOutbox; table: CountingTable } {
  const { store } = openTempStore(t);
  const table = new CountingTable(store.db);
  const config = compileWebhooks({ webhooks, webhookRetryMs: retryMs, webhookRetryMaxMs: retryMs, webhookMaxAttempts: 5 });
  const outbox = new WebhookOutbox({ table, config, clock: Date.now, log: testLog() });
  t.after(() => outbox.stop());
  return { outbox, table };
}

test("with no webhook configured the outbox reads the store once at start, then sleeps", async (t) => {
  const { outbox, table } = outboxWith(t, []);
  outbox.start();
  await eventually(() => table.nextDueCalls === 1, "the start's pass");
  // The loop used to read the store again every second; it now waits for notify(), which queues nothing here.
  await sleep(1500);
  assert.equal(table.dueCalls, 1);
  assert.deepEqual(outbox.notify("job.done", "job-1", { jobId: "job-1" }), []);
  await sleep(100);
  assert.equal(table.dueCalls, 1, "a notify that queues nothing does not wake the loop");
});

test("a sleeping outbox is woken by notify() and delivers; a failed try is retried when due, then it sleeps again", async (t) => {
  let up = false;
  const rx = await receiver(t, () => (up ? 204 : 503));
  const { outbox, table } = outboxWith(t, [{ url: rx.url, secret: "a-test-secret-of-some-length" }], 200);
  outbox.start();
  await eventually(() => table.nextDueCalls === 1, "the start's pass");
  await sleep(300);
  assert.equal(table.dueCalls, 1, "asleep with nothing pending");

  const [id] = outbox.notify("job.done", "job-1", { jobId: "job-1" });
  assert.ok(id !== undefined);
  await eventually(() => rx.got.length === 1, "the first try, woken by notify()");
  up = true;
  await eventually(() => table.get(id)?.state === "delivered", "the retry, once due", 10_000);
  assert.equal(rx.got.length, 2);

  const passes = table.dueCalls;
  await eventually(() => table.nextDueCalls >= passes, "the last pass's end");
  await sleep(1500);
  assert.equal(table.dueCalls, passes, "asleep again once the delivery was made");
});
