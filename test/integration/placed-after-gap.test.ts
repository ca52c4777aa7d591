import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { connect } from "@nats-io/transport-node";
import { WorkLoop } from "../../agent/nats/work-loop.ts";
import { ClaimService, type ClaimResult, type WorkDescriber } from "../../coordinator/dispatch/claim-service.ts";
import { DEFAULT_FARM_POLICY } from "../../coordinator/dispatch/farm-policy.ts";
import { LostWorkFirst } from "../../coordinator/dispatch/lost-work-first.ts";
import { PlacedTakeBack } from "../../coordinator/dispatch/placed-take-back.ts";
import { POOL_CONSUMER, agentConsumerName } from "../../shared/protocol/subjects.ts";
import { startBlackholeProxy } from "../helpers/blackhole-proxy.ts";
import { defer } from "../helpers/defer.ts";
import { heard } from "../helpers/heartbeat-fixture.ts";
import { pullsOpen } from "../helpers/open-pulls.ts";
import { seedFarm } from "../helpers/store-fixture.ts";
import { testLog } from "../helpers/test-log.ts";
import { startWorkQueue } from "../helpers/work-queue-fixture.ts";

// Why this file exists: the thirteenth round's soak, where a link cut recovered 7.3-8.1 s (of possible time) after
// its fault in 3 of 16 runs. The cut agent's chunk was placed first on another agent whose link had just been cut
// too (or just before a nats-server kill). With a real nats-server and a real work loop: the server hands the placed
// message to the pull agent A had open when its link went silent; A gives that pull up, and once its link is back
// its own consumer delivers nothing (the message waits out its 30 s ack wait). A single agent, so neither the
// passed-over nor the unclaimed rule has anywhere else to go. Placed again when A is heard again after the gap
// (placed-take-back.ts heardAfterGap), the new message reaches A. Nothing here asserts a time.

const ACK_WAIT_S = 30;
const describeWork: WorkDescriber = () => ({ input: null, steps: [] });

async function placedIntoGap(t: TestContext): Promise<{ claims: ClaimResult[]; a: string; takeBack: PlacedTakeBack; passes: () => Promise<void> }> {
  const farm = seedFarm(t, { job: { state: "running" }, chunks: [[0, 4]] });
  const a = farm.agent.id;
  const chunkId = farm.chunks[0]!.id;
  const wq = await startWorkQueue(t, ACK_WAIT_S);
  await wq.queue.ensureAgentConsumer(a);
  const claims = new ClaimService(farm.store, DEFAULT_FARM_POLICY, describeWork, Date.now, testLog(), () => undefined);
  const results: ClaimResult[] = [];
  const proxy = await startBlackholeProxy(t, wq.url);
  const nc = await connect({ servers: proxy.address, maxReconnectAttempts: -1, reconnectTimeWait: 250, timeout: 5_000 });
  defer(t, () => nc.close());
  const loop = new WorkLoop(nc, async (msg) => void results.push(claims.claim(a, msg.chunkId, msg.dispatchId)), { ackWaitSeconds: ACK_WAIT_S, agentConsumer: agentConsumerName(a) }, testLog());
  defer(t, () => loop.stop());
  loop.start();
  // A's pulls open: the placed message must reach the pull A had open when its link went silent.
  await pullsOpen(wq.jsm, { [agentConsumerName(a)]: 1, [POOL_CONSUMER]: 1 }, "A's pulls (its own consumer and the pool) to be open");
  farm.store.agents.touch(a, Date.now());
  const takeBack = new PlacedTakeBack(farm.store, { startedAt: Date.now() });
  const first = new LostWorkFirst({ store: farm.store, publisher: wq.queue, live: () => heard([a]), ineligible: () => null, clock: Date.now, log: testLog(), freshMs: 1.5 * DEFAULT_FARM_POLICY.heartbeatMs, takeBack });
  const published = new Map<string, { dispatchId: string; seq: number }>();
  proxy.cut();
  first.requeued(chunkId);
  await first.place(published);
  assert.equal(farm.store.chunks.get(chunkId)?.placedAgentId, a);
  await sleep(3_000); // A's pull is given up for missed heartbeats meanwhile
  proxy.restore();
  return { claims: results, a, takeBack, passes: () => first.place(published) };
}

/** The coordinator's passes, every 200 ms, for `ms`; stops early once a claim is accepted. */
async function passFor(f: { claims: ClaimResult[]; passes: () => Promise<void> }, ms: number): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end && !f.claims.some((c) => !c.skip); ) {
    await f.passes();
    await sleep(200);
  }
}

test("a placed message delivered into a cut link is not redelivered once the link is back: the chunk waits on its agent", async (t) => {
  const f = await placedIntoGap(t);
  await passFor(f, 5_000);
  assert.deepEqual(f.claims, [], "A's own consumer delivered nothing after its link came back");
});

test("placed again when its agent is heard again after the gap, the chunk is claimed by that agent", async (t) => {
  const f = await placedIntoGap(t);
  const back = Date.now();
  f.takeBack.heardAfterGap(f.a, back);
  await passFor(f, 10_000);
  assert.equal(f.claims.filter((c) => !c.skip).length, 1, "A claimed the chunk once, from the new message");
  t.diagnostic(`claimed ${Date.now() - back} ms after A was heard again`);
});
