import { test } from "node:test";
import assert from "node:assert/strict";
import { compileCoordinatorConfig } from "../../coordinator/config/coordinator-config.ts";
import { isBadInput } from "../../shared/errors.ts";

const base = { dataDir: "/tmp/ns-config-test" };

test("webhooks compile with every event by default, and the test event", () => {
  const c = compileCoordinatorConfig({ ...base, webhooks: [{ url: "http://127.0.0.1:9/h", secret: "0123456789abcdef" }], webhookRetryMs: 100 }, "/models");
  assert.equal(c.webhooks.targets.length, 1);
  assert.deepEqual([...(c.webhooks.targets[0]?.events ?? [])].sort(), ["agent.offline", "job.blocked", "job.done", "job.failed", "webhook.test"]);
  assert.equal(c.webhooks.retryMs, 100);
  assert.equal(c.http.host, "127.0.0.1");
  assert.equal(c.http.tls, false);
});

test("the dashboard beyond loopback is HTTPS", () => {
  assert.equal(compileCoordinatorConfig({ ...base, httpListen: "0.0.0.0:7480" }, "/models").http.tls, true);
  assert.equal(compileCoordinatorConfig({ ...base, httpListen: "[::1]:7480" }, "/models").http.tls, false);
});

test("a bad webhook names its field", () => {
  const bad = (webhooks: unknown, field: RegExp): void =>
    assert.throws(() => compileCoordinatorConfig({ ...base, webhooks }, "/models"), (e) => isBadInput(e) && field.test((e as Error).message));
  bad([{ url: "ftp://x/y", secret: "0123456789abcdef" }], /webhooks\.0\.url/);
  bad([{ url: "http://x/y", secret: "short" }], /webhooks\.0\.secret/);
  bad([{ url: "http://x/y", secret: "0123456789abcdef", events: ["job.started"] }], /webhooks\.0\.events/);
});
