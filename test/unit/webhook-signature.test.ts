import { test } from "node:test";
import assert from "node:assert/strict";
import { signWebhook, verifyWebhook } from "../../coordinator/notify/webhook-signature.ts";

const SECRET = "sixteen-chars-or-more";
const BODY = JSON.stringify({ id: "whk_1", event: "job.done", data: { jobId: "job_1" } });
const AT = Date.UTC(2026, 10, 29, 3, 0, 0);

test("a signed body verifies with the same secret, close to its time", () => {
  const header = signWebhook(SECRET, BODY, AT);
  assert.match(header, /^t=\d+,v1=[0-9a-f]{64}$/);
  assert.equal(verifyWebhook(SECRET, BODY, header, AT + 1000), true);
});

test("another secret, a changed body, a changed time or an old signature do not verify", () => {
  const header = signWebhook(SECRET, BODY, AT);
  assert.equal(verifyWebhook("a-different-secret-value", BODY, header, AT), false);
  assert.equal(verifyWebhook(SECRET, BODY.replace("job_1", "job_2"), header, AT), false);
  assert.equal(verifyWebhook(SECRET, BODY, header.replace(`t=${AT}`, `t=${AT + 1}`), AT), false);
  assert.equal(verifyWebhook(SECRET, BODY, header, AT + 10 * 60_000), false, "older than five minutes");
  assert.equal(verifyWebhook(SECRET, BODY, "t=1,v1=zz", AT), false);
  assert.equal(verifyWebhook(SECRET, BODY, "", AT), false);
});
