import assert from "node:assert/strict";
import { test } from "node:test";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { agentConsumerName, WORK_STREAM } from "../../shared/protocol/subjects.ts";
import { decodeJson, WorkMessageSchema } from "../../shared/protocol/messages.ts";
import { defer } from "../helpers/defer.ts";
import { startWorkQueue } from "../helpers/work-queue-fixture.ts";

test("after a restart the stale messages are purged: a lost chunk placed on an agent again is the first its own subject delivers, and a stale one it holds is still acked", async (t) => {
  const w = await startWorkQueue(t, 30);
  const agentId = "agt-a";
  await w.queue.ensureAgentConsumer(agentId);
  // Before the restart: three chunks placed on the agent; it pulled the first and holds it (kept alive, not acked).
  for (const n of [1, 2, 3]) await w.queue.publish({ chunkId: `c${n}`, jobId: "j", dispatchId: `dsp-old-${n}` }, agentId);
  const nc = await connect({ servers: w.url });
  defer(t, () => nc.close());
  const own = await jetstream(nc).consumers.get(WORK_STREAM, agentConsumerName(agentId));
  const held = await own.next({ expires: 1000 });
  assert.equal(held?.seq, 1);

  // The restart: every queued chunk back to pending (their messages stale), the stream purged, the lost chunk placed again.
  await w.queue.purge();
  await w.queue.publish({ chunkId: "c3", jobId: "j", dispatchId: "dsp-new-3" }, agentId);
  const next = await own.next({ expires: 1000 });
  assert.ok(next, "the new placement is delivered");
  assert.equal(decodeJson(WorkMessageSchema, next.data).dispatchId, "dsp-new-3", "no stale copy ahead of it");
  await held?.ackAck({ timeout: 3000 }); // confirmed at once: the agent's loop is not held up by a purged message
  assert.equal(await next.ackAck({ timeout: 3000 }), true); // confirmed before the count: a plain ack() races it
  assert.equal(await w.streamMessages(), 0);
});
