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

test("a chain's later store models and a scene's uploaded files count too: each agent pays for the bytes it lacks", () => {
  const later = "9".repeat(64);
  const texture = "8".repeat(64);
  const chain = job("j", { fetchAssets: [{ sha256: MODEL, size: 1 * GiB }, { sha256: later, size: 3 * GiB }, { sha256: texture, size: 1 * GiB }] });
  const p = policy({ modelLoadSeconds: 5, fetchBytesPerSecond: 100e6 });
  const penalty = (a: ReturnType<typeof agent>): number => placementPenaltySeconds(a, chain, () => null, p.modelLoadSeconds, p.fetchBytesPerSecond);
  assert.equal(penalty(agent("cold")), 5 + (5 * GiB) / 100e6);
  assert.equal(penalty(agent("first", { cachedAssets: [MODEL] })), 5 + (4 * GiB) / 100e6, "the first model cached, the later one still to fetch");
  assert.equal(penalty(agent("all", { cachedAssets: [MODEL, later, texture] })), 5);
  const some = [agent("first", { cachedAssets: [MODEL] }), agent("later", { cachedAssets: [later] })];
  assert.deepEqual(routeJob(chain, some), { kind: "agents", eligible: some }, "agents holding different parts: placed by what each lacks");
  const same = [agent("a", { cachedAssets: [MODEL] }), agent("b", { cachedAssets: [MODEL] })];
  assert.deepEqual(routeJob(chain, same), { kind: "pool" });
});
