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
import { eventually } from "../helpers/eventually.ts";
import { heard } from "../helpers/heartbeat-fixture.ts";
import { pullsOpen } from "../helpers/open-pulls.ts";
import { insertAgent, seedFarm } from "../helpers/store-fixture.ts";
import { testLog } from "../helpers/test-log.ts";
import { startWorkQueue } from "../helpers/work-queue-fixture.ts";

// Why this file exists: the soak's 7.47 s recovery. Lost work was placed on an agent whose link had been cut
// silently a moment before (it still counted as freshly heard); that agent never claimed it, and the chunk sat
// there until the agent was judged lost. Here, with a real nats-server and real work loops, agent A's link is cut
// (a proxy that stops carrying bytes, as the soak's downed bridge port) just before lost work is placed on it: the
// unclaimed rule (coordinator/dispatch/placed-take-back.ts) takes it back and agent B runs it, and A's late claim,
// once its link is back, is refused. Nothing here asserts a time; the time taken is reported as a diagnostic.

const ACK_WAIT_S = 30;
const describeWork: WorkDescriber = () => ({ input: null, steps: [] });

interface Claimed {
  agentId: string;
  dispatchId: string;
  result: ClaimResult;
}

async function cutPlacement(t: TestContext, unclaimed: boolean): Promise<{ claimed: Claimed[]; placedAt: number; chunkId: string; a: string; b: string; passes: () => Promise<void>; restoreA: () => void }> {
  const farm = seedFarm(t, { job: { state: "running" }, chunks: [[0, 4]] });
  const a = farm.agent.id;
  const b = insertAgent(farm.store, { id: "agt-b" }).id;
  const chunkId = farm.chunks[0]!.id;
  const wq = await startWorkQueue(t, ACK_WAIT_S);
  await wq.queue.ensureAgentConsumer(a);
  await wq.queue.ensureAgentConsumer(b);
  const claims = new ClaimService(farm.store, DEFAULT_FARM_POLICY, describeWork, Date.now, testLog(), () => undefined);
  const claimed: Claimed[] = [];
  const startAgent = async (agentId: string, server: string): Promise<void> => {
    const nc = await connect({ servers: server, maxReconnectAttempts: -1, reconnectTimeWait: 250, timeout: 5_000 });
    defer(t, () => nc.close());
    const handler = async (msg: { chunkId: string; dispatchId: string }): Promise<void> => {
      claimed.push({ agentId, dispatchId: msg.dispatchId, result: claims.claim(agentId, msg.chunkId, msg.dispatchId) });
    };
    const loop = new WorkLoop(nc, handler, { ackWaitSeconds: ACK_WAIT_S, agentConsumer: agentConsumerName(agentId) }, testLog());
    defer(t, () => loop.stop());
    loop.start();
  };
  const proxy = await startBlackholeProxy(t, wq.url);
  await startAgent(a, proxy.address);
  await startAgent(b, wq.url);
  await pullsOpen(wq.jsm, { [agentConsumerName(a)]: 1, [agentConsumerName(b)]: 1, [POOL_CONSUMER]: 2 }, "both agents' pulls to be open");

  // A was heard last (its link is cut a moment from now); B a little before: A is the choice, as in the soak.
  const now = Date.now();
  farm.store.agents.touch(a, now);
  farm.store.agents.touch(b, now - 500);
  const first = new LostWorkFirst({
    store: farm.store,
    publisher: wq.queue,
    live: () => heard([a, b]),
    ineligible: () => null,
    clock: Date.now,
    log: testLog(),
    freshMs: 1.5 * DEFAULT_FARM_POLICY.heartbeatMs,
    takeBack: new PlacedTakeBack(farm.store, { startedAt: now, unclaimed }),
  });
  const published = new Map<string, { dispatchId: string; seq: number }>();
  proxy.cut();
  first.requeued(chunkId);
  await first.place(published);
  const placedAt = Date.now();
  assert.equal(farm.store.chunks.get(chunkId)?.placedAgentId, a, "the lost chunk is placed on A, whose link was just cut");
  // Each pass as the coordinator's: B's heartbeats keep it freshly heard (A's stop at the cut).
  const passes = (): Promise<void> => {
    farm.store.agents.touch(b, Date.now());
    return first.place(published);
  };
  return { claimed, placedAt, chunkId, a, b, passes, restoreA: () => proxy.restore() };
}

test("lost work placed on an agent whose link was just cut is taken back and run by another agent; the cut agent's late claim is refused", async (t) => {
  const f = await cutPlacement(t, true);
  // The dispatcher's passes, every 200 ms here (a tick a second and a kick per change in the coordinator).
  const byB = (): Claimed | undefined => f.claimed.find((c) => c.agentId === f.b && !c.result.skip);
  await eventually(async () => {
    await f.passes();
    return byB() !== undefined;
  }, "B to claim the chunk taken back from A", 20_000, 200);
  t.diagnostic(`claimed by B ${Date.now() - f.placedAt} ms after the placement on A`);

  // A's link comes back: whatever A gets of the old placement is refused, so one attempt only.
  f.restoreA();
  await sleep(2_500);
  for (const c of f.claimed.filter((x) => x.agentId === f.a)) assert.equal(c.result.skip, true, "A's claim of the old placement is refused");
  assert.equal(f.claimed.filter((c) => !c.result.skip).length, 1, "exactly one claim accepted");
});

test("without the unclaimed rule the chunk stays placed on the cut agent", async (t) => {
  const f = await cutPlacement(t, false);
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    await f.passes();
    await sleep(200);
  }
  assert.deepEqual(f.claimed, [], "nobody claimed it: it waits on A until A is judged lost");
});
