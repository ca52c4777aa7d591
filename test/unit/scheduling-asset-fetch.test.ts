import assert from "node:assert/strict";
import { test } from "node:test";
import { placementPenaltySeconds } from "../../coordinator/scheduling/eligibility.ts";
import { placeChunks, routeJob } from "../../coordinator/scheduling/place-chunks.ts";
import type { PendingChunk } from "../../coordinator/scheduling/scheduling-types.ts";
import { SpeedBook } from "../../coordinator/scheduling/speed-book.ts";
import { agent, GiB, job, loadOf, MODEL, policy } from "../helpers/scheduling-fixtures.ts";

const pending = (jobId: string, n: number, frames = 10): PendingChunk[] => Array.from({ length: n }, (_, i) => ({ id: `${jobId}.c${i}`, jobId, frames }));

test("a model in the store costs its transfer on an agent that lacks it, nothing on one that has it cached or loaded", () => {
  const storeJob = job("j", { modelFetchBytes: 2 * GiB });
  const p = policy({ modelLoadSeconds: 5, fetchBytesPerSecond: 100e6 });
  const fetchSeconds = (2 * GiB) / 100e6;
  assert.equal(placementPenaltySeconds(agent("cold"), storeJob, () => null, p.modelLoadSeconds, p.fetchBytesPerSecond), 5 + fetchSeconds);
  assert.equal(placementPenaltySeconds(agent("cached", { cachedAssets: [MODEL] }), storeJob, () => null, p.modelLoadSeconds, p.fetchBytesPerSecond), 5);
  assert.equal(placementPenaltySeconds(agent("loaded", { loadedModels: [MODEL] }), storeJob, () => null, p.modelLoadSeconds, p.fetchBytesPerSecond), 0);
  // A model from the models folder (not in the store) has no transfer to pay.
  assert.equal(placementPenaltySeconds(agent("cold"), job("j"), () => null, p.modelLoadSeconds, p.fetchBytesPerSecond), 5);
});

test("placement prefers the agent with the model cached over an equally fast one that must fetch gigabytes", () => {
  const cold = agent("cold");
  const warm = agent("warm", { cachedAssets: [MODEL] });
  const agents = [cold, warm];
  const storeJob = job("j", { modelFetchBytes: 8 * GiB });
  assert.deepEqual(routeJob(storeJob, agents), { kind: "agents", eligible: agents }, "placed, not pooled: the agents differ in what they hold");
  assert.deepEqual(routeJob(job("j"), agents), { kind: "pool" }, "a models-folder model: the cache says nothing");
  const { placements } = placeChunks({
    agents,
    jobs: new Map([["j", storeJob]]),
    pending: pending("j", 2),
    poolRoom: 4,
    depthPerAgent: 2,
    limit: Infinity,
    load: loadOf(agents, new SpeedBook()),
    needOf: () => null,
    policy: policy({ fetchBytesPerSecond: 100e6 }),
  });
  assert.deepEqual(placements.map((p) => p.agentId), ["warm", "warm"]);
});
