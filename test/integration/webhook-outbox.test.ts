/**
 * Webhooks against a real receiver on 127.0.0.1: a job's "job.done" is
 * retried while the receiver fails, survives a coordinator restart in the
 * middle of its retries (same delivery id afterwards, delivered once), and
 * carries a signature the receiver verifies with the shared secret. Also
 * `nightshift webhook test` and `nightshift dashboard --json` through the CLI.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { generatedJob, startTestCoordinator, tempDir, waitUntil } from "../support/farm.ts";
import { startLocalAgent } from "../helpers/local-agent.ts";
import { runCli } from "../support/run-cli.ts";
import { SIGNATURE_HEADER, verifyWebhook } from "../../coordinator/notify/webhook-signature.ts";
import { WebhookOutboxTable } from "../../coordinator/store/webhook-outbox-table.ts";

const SECRET = "a-test-secret-of-some-length";

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  status: number;
}

/** A webhook receiver on loopback that answers `status()` to each POST and keeps what it got. */
async function receiver(t: { after(fn: () => unknown): void }, status: () => number): Promise<{ url: string; got: Received[] }> {
  const got: Received[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      const s = status();
      got.push({ headers: req.headers, body, status: s });
      res.writeHead(s).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, got };
}

test("webhooks: job.done is retried, survives a restart mid-retry, is delivered once and verifies", { timeout: 120_000 }, async (t) => {
  const dir = tempDir(t, "ns-hook-");
  let up = false;
  const rx = await receiver(t, () => (up ? 204 : 503));
  const config = { webhooks: [{ url: rx.url, secret: SECRET, events: ["job.done" as const] }], webhookRetryMs: 300, webhookRetryMaxMs: 600 };
  const first = await startTestCoordinator(t, dir, config);
  const jobId = (await first.api.submit(JSON.stringify(generatedJob("hooked", 4, 32, 32, 4)), dir)).jobId;
  await startLocalAgent(t, first, dir, "hook-agent");
  await first.finisher.waitFor(jobId);
  assert.equal(first.api.job(jobId).state, "done");

  // The receiver refuses: the delivery is retried, at least twice, and stays pending. Waited for in the
  // outbox's row: the receiver has a request before the coordinator has read its answer and recorded the try.
  const table = new WebhookOutboxTable(first.store.db);
  const pending = await waitUntil(() => table.recent(10).find((r) => r.event === "job.done" && r.attempts >= 2), 20_000, "two failed tries recorded");
  assert.ok(rx.got.length >= 2);
  assert.ok(pending.state === "pending" && pending.lastError === "HTTP 503", JSON.stringify(pending));
  await first.stop();
  const triesBefore = rx.got.length;

  // Restarted on the same data dir, with the receiver back: the same delivery arrives, once.
  up = true;
  const second = await startTestCoordinator(t, dir, config);
  await waitUntil(() => rx.got.some((g) => g.status === 204), 20_000, "delivery after the restart");
  const ok = rx.got.filter((g) => g.status === 204);
  assert.equal(ok.length, 1);
  const delivered = ok[0]!;
  assert.ok(rx.got.length > triesBefore);
  assert.equal(delivered.headers["x-nightshift-delivery"], pending.id, "the same outbox row, not a new one");
  assert.equal(delivered.headers["x-nightshift-event"], "job.done");
  const sig = String(delivered.headers[SIGNATURE_HEADER]);
  assert.ok(verifyWebhook(SECRET, delivered.body, sig, Date.now()), "signature verifies with the shared secret");
  assert.equal(verifyWebhook("another-secret-entirely", delivered.body, sig, Date.now()), false);
  assert.equal(verifyWebhook(SECRET, delivered.body.replace("done", "dune"), sig, Date.now()), false);
  const payload = JSON.parse(delivered.body) as { event: string; data: { jobId: string; state: string; framesDone: number } };
  assert.equal(payload.event, "job.done");
  assert.equal(payload.data.jobId, jobId);
  assert.equal(payload.data.framesDone, 4);
  const row = new WebhookOutboxTable(second.store.db).get(pending.id);
  assert.equal(row?.state, "delivered");
  assert.ok((row?.attempts ?? 0) > pending.attempts);
  // Nothing more arrives for the same event.
  await new Promise((r) => setTimeout(r, 800));
  assert.equal(rx.got.filter((g) => g.status === 204).length, 1);
});

test("nightshift webhook test and nightshift dashboard --json talk to a running coordinator", { timeout: 90_000 }, async (t) => {
  const dir = tempDir(t, "ns-hook-cli-");
  const rx = await receiver(t, () => 200);
  const c = await startTestCoordinator(t, dir, { webhooks: [{ url: rx.url, secret: SECRET }] });
  const flags = ["--coordinator", c.address, "--data-dir", join(dir, "data")];
  const r = await runCli(["webhook", "test", ...flags, "--json"]);
  assert.equal(r.status, 0, r.stderr);
  const deliveries = JSON.parse(r.stdout) as Array<{ url: string; state: string }>;
  assert.deepEqual(deliveries.map((d) => [d.url, d.state]), [[rx.url, "delivered"]]);
  assert.equal(rx.got.length, 1);
  assert.ok(verifyWebhook(SECRET, rx.got[0]!.body, String(rx.got[0]!.headers[SIGNATURE_HEADER]), Date.now()));

  const d = await runCli(["dashboard", ...flags, "--json"]);
  assert.equal(d.status, 0, d.stderr);
  const { url } = JSON.parse(d.stdout) as { url: string };
  assert.ok(url.startsWith(c.dashboard.url + "login?token="), url);
  const login = await fetch(url, { redirect: "manual" });
  assert.equal(login.status, 303);
  assert.match(login.headers.get("set-cookie") ?? "", /HttpOnly; SameSite=Strict/);
  const bad = await runCli(["dashboard", ...flags, "--role", "owner"]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /role/);
});
