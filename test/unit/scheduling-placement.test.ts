import assert from "node:assert/strict";
import { test } from "node:test";
import { ineligibility } from "../../coordinator/scheduling/eligibility.ts";
import { placeChunks, routeJob } from "../../coordinator/scheduling/place-chunks.ts";
import type { PendingChunk } from "../../coordinator/scheduling/scheduling-types.ts";
import { SpeedBook } from "../../coordinator/scheduling/speed-book.ts";
import { agent, GiB, job, loadOf, MODEL, OTHER_MODEL, policy, speeds } from "../helpers/scheduling-fixtures.ts";

const pending = (jobId: string, n: number, frames = 10): PendingChunk[] => Array.from({ length: n }, (_, i) => ({ id: `${jobId}.c${i}`, jobId, frames }));

test("hard rules: a model larger than the card, missing tags, too little VRAM, a CPU agent's RAM, the blocklist", () => {
  const big = job("j", { memoryBytes: 14 * GiB });
  assert.equal(ineligibility(agent("a8", { vramBytes: 8 * GiB }), big), "model needs 14.0 GiB, agent has 8.0 GiB VRAM");
  assert.equal(ineligibility(agent("a24", { vramBytes: 24 * GiB }), big), null);
  assert.equal(ineligibility(agent("cpu", { vramBytes: 0, ramBytes: 8 * GiB }), big), "model needs 14.0 GiB, agent has 8.0 GiB RAM");
  assert.equal(ineligibility(agent("cpu", { vramBytes: 0, ramBytes: 32 * GiB }), big), null, "a CPU agent runs the model in RAM");
  assert.equal(ineligibility(agent("a", { tags: ["cuda"] }), job("j", { tags: ["cuda", "studio-a"] })), "lacks tag studio-a");
  assert.equal(ineligibility(agent("a", { tags: ["studio-a", "cuda", "x"] }), job("j", { tags: ["cuda", "studio-a"] })), null);
  assert.equal(ineligibility(agent("a", { vramBytes: 8 * GiB }), job("j", { minVramBytes: 12 * GiB })), "has 8.0 GiB VRAM, job needs 12.0 GiB");
  assert.equal(ineligibility(agent("cpu", { vramBytes: 0 }), job("j", { minVramBytes: GiB })), "has no GPU (job needs 1.0 GiB)");
  assert.equal(ineligibility(agent("a"), job("j", { blockedAgents: ["a"] })), "is blocklisted for this job");
});

test("routing: pool when every agent may run the job alike; placed when only some may or some hold the model; held when none may", () => {
  const a = agent("a", { vramBytes: 8 * GiB });
  const b = agent("b", { vramBytes: 24 * GiB });
  assert.deepEqual(routeJob(job("j"), [a, b]), { kind: "pool" });
  assert.deepEqual(routeJob(job("j", { memoryBytes: 14 * GiB }), [a, b]), { kind: "agents", eligible: [b] });
  assert.deepEqual(routeJob(job("j"), [{ ...a, loadedModels: [MODEL] }, b]), { kind: "agents", eligible: [{ ...a, loadedModels: [MODEL] }, b] });
  assert.deepEqual(routeJob(job("j"), [{ ...a, loadedModels: [MODEL] }, { ...b, loadedModels: [MODEL, OTHER_MODEL] }]), { kind: "pool" });
  assert.deepEqual(routeJob(job("j"), [{ ...a, accepting: false }, b]), { kind: "pool" }, "a draining agent does not count");
  assert.deepEqual(routeJob(job("j", { memoryBytes: 40 * GiB }), []), { kind: "pool" }, "no agent online: the first to come decides at claim");
  const held = routeJob(job("j", { memoryBytes: 40 * GiB }), [a, b]);
  assert.equal(held.kind, "hold");
  assert.match((held as { reason: string }).reason, /no online agent can run this job: a model needs 40\.0 GiB, agent has 8\.0 GiB VRAM; b model needs 40\.0 GiB/);
});

test("placement: a 14 GiB model never goes to the 8 GiB card; the pool is filled only up to its room", () => {
  const agents = [agent("small", { vramBytes: 8 * GiB }), agent("big", { vramBytes: 24 * GiB })];
  const jobs = new Map([
    ["big", job("big", { memoryBytes: 14 * GiB, priority: 5 })],
    ["any", job("any")],
  ]);
  const { placements, holds } = placeChunks({
    agents,
    jobs,
    pending: [...pending("big", 3), ...pending("any", 5)],
    poolRoom: 4,
    depthPerAgent: 2,
    limit: Infinity,
    load: loadOf(agents, new SpeedBook()),
    needOf: () => null,
    policy: policy(),
  });
  assert.deepEqual(holds, []);
  assert.deepEqual(
    placements.map((p) => `${p.chunkId}->${p.agentId ?? "pool"}`),
    ["big.c0->big", "big.c1->big", "any.c0->pool", "any.c1->pool", "any.c2->pool", "any.c3->pool"],
    "big.c2 waits: the only eligible agent has 2 waiting already",
  );
});

test("placement prefers the agent that finishes first: measured speed, queued work, and the model already loaded", () => {
  const fast = agent("fast", { tags: ["gpu"] });
  const slow = agent("slow", { tags: ["gpu"] });
  const other = agent("other");
  const agents = [fast, slow, other];
  const j = job("j", { tags: ["gpu"] });
  const book = speeds({ fast: 40, slow: 10 });
  const { placements } = placeChunks({
    agents,
    jobs: new Map([["j", j]]),
    pending: pending("j", 4, 40),
    poolRoom: 10,
    depthPerAgent: 3,
    limit: Infinity,
    load: loadOf(agents, book),
    needOf: () => null,
    policy: policy(),
  });
  // fast: 1 s per chunk, slow: 4 s. fast takes three (finishing at 1, 2, 3 s) before slow's first (4 s) is the better choice;
  // then fast is full (depth 3) and the fourth goes to slow.
  assert.deepEqual(placements.map((p) => p.agentId), ["fast", "fast", "fast", "slow"]);

  // The slow agent holds the model, the fast one would have to load it (5 s): the first chunk goes to the slow one.
  const { placements: p2 } = placeChunks({
    agents: [fast, { ...slow, loadedModels: [j.modelSha256] }, other],
    jobs: new Map([["j", j]]),
    pending: pending("j", 2, 40),
    poolRoom: 10,
    depthPerAgent: 3,
    limit: Infinity,
    load: loadOf(agents, book),
    needOf: () => null,
    policy: policy(),
  });
  assert.deepEqual(p2.map((p) => p.agentId), ["slow", "fast"], "after its first chunk the fast agent counts as holding the model");
});

test("placement keeps job priority order and honours the start limit", () => {
  const agents = [agent("a")];
  const { placements } = placeChunks({
    agents,
    jobs: new Map([["hi", job("hi", { priority: 9 })], ["lo", job("lo")]]),
    pending: [...pending("hi", 2), ...pending("lo", 2)],
    poolRoom: 10,
    depthPerAgent: 2,
    limit: 3,
    load: loadOf(agents, new SpeedBook()),
    needOf: () => null,
    policy: policy(),
  });
  assert.deepEqual(placements.map((p) => p.chunkId), ["hi.c0", "hi.c1", "lo.c0"]);
});
