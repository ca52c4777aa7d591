import assert from "node:assert/strict";
import { test } from "node:test";
import type { NatsConnection } from "@nats-io/nats-core";
import { assetPrefetcher } from "../../coordinator/assets/asset-prefetch.ts";
import { AgentControlSchema, decodeJson } from "../../shared/protocol/messages.ts";
import { heard } from "../helpers/heartbeat-fixture.ts";
import { subjects } from "../../shared/protocol/subjects.ts";
import { silentLogger } from "../../shared/log.ts";
import { insertJob, openTempStore } from "../helpers/store-fixture.ts";

const SHA = "cd".repeat(32);

test("a chunk placed on an agent that lacks the job's store model sends one prefetch; a cached model or a models-folder model none", (t) => {
  const { store } = openTempStore(t);
  store.models.put({ name: "m", sha256: SHA, size: 1234, manifestJson: "{}", license: "", source: "", addedAt: 1 });
  const fromStore = insertJob(store, { modelSha256: SHA });
  const fromFolder = insertJob(store);
  const sent: Array<{ subject: string; data: Uint8Array }> = [];
  // Only publish is used: a recorder in its place.
  const nc = { publish: (subject: string, data: Uint8Array) => void sent.push({ subject, data }) } as unknown as NatsConnection;
  const live = heard(["warm"], { cachedAssets: [SHA] });
  let now = 0;
  const prefetch = assetPrefetcher({ store, nc, subjects: subjects("ns"), live: () => live, clock: () => now, log: silentLogger() });

  prefetch("cold", fromStore.id);
  prefetch("cold", fromStore.id);
  prefetch("warm", fromStore.id);
  prefetch("cold", fromFolder.id);
  assert.equal(sent.length, 1, "one message: not repeated at once, none to the agent that has it, none for a folder model");
  assert.equal(sent[0]?.subject, subjects("ns").control("cold"));
  assert.deepEqual(decodeJson(AgentControlSchema, sent[0]!.data), { type: "prefetch", assets: [{ sha256: SHA, size: 1234 }] });
  now += 61_000;
  prefetch("cold", fromStore.id);
  assert.equal(sent.length, 2, "repeated after a minute if the agent still does not advertise it");
});

test("prefetch covers every store model of a chain and every file of a scene sent by content, in bounded messages", (t) => {
  const { store } = openTempStore(t);
  const second = "ef".repeat(32);
  store.models.put({ name: "m", sha256: SHA, size: 1234, manifestJson: "{}", license: "", source: "", addedAt: 1 });
  store.models.put({ name: "later", sha256: second, size: 99, manifestJson: "{}", license: "", source: "", addedAt: 1 });
  const files = Array.from({ length: 70 }, (_, i) => ({ path: `tex/${i}.png`, sha256: i.toString(16).padStart(64, "0"), size: i + 1 }));
  const scene = { id: "r", kind: "blender", scene: "tex/0.png", sceneSha256: files[0]!.sha256, engine: null, samples: null, resolution: null, percentage: null, version: null, tree: files };
  const chain = insertJob(store, {
    modelSha256: files[0]!.sha256,
    stepsJson: JSON.stringify([scene, { id: "up", kind: "model", model: "later", modelSha256: second, window: null, modelSize: 99 }]),
  });
  const sent: Uint8Array[] = [];
  const nc = { publish: (_subject: string, data: Uint8Array) => void sent.push(data) } as unknown as NatsConnection;
  // The agent already holds the later model and the first texture.
  const live = heard(["a"], { cachedAssets: [second, files[0]!.sha256] });
  assetPrefetcher({ store, nc, subjects: subjects("ns"), live: () => live, clock: () => 0, log: silentLogger() })("a", chain.id);
  const asked = sent.flatMap((d) => {
    const m = decodeJson(AgentControlSchema, d);
    return m.type === "prefetch" ? m.assets : [];
  });
  assert.equal(sent.length, 2, "69 files in messages of at most 64");
  assert.deepEqual(asked.map((a) => a.sha256).sort(), files.slice(1).map((f) => f.sha256).sort());

  // A chain whose later step is a store model the agent lacks gets that model prefetched too.
  live.set("a", { ...live.get("a")!, cachedAssets: [] });
  const sent2 = sent.length;
  const models = insertJob(store, { stepsJson: JSON.stringify([{ id: "g", kind: "model", model: "colour-grade", modelSha256: "ab".repeat(32), window: null }, { id: "up", kind: "model", model: "later", modelSha256: second, window: null, modelSize: 99 }]) });
  assetPrefetcher({ store, nc, subjects: subjects("ns"), live: () => live, clock: () => 0, log: silentLogger() })("a", models.id);
  assert.deepEqual(decodeJson(AgentControlSchema, sent[sent2]!), { type: "prefetch", assets: [{ sha256: second, size: 99 }] });
});

test("a job's assets are read once for the chunks of a pass, and again after a minute (a model stored later is then seen)", (t) => {
  const { store } = openTempStore(t);
  const job = insertJob(store, { modelSha256: SHA });
  let reads = 0;
  const jobs = store.jobs;
  const get = jobs.get.bind(jobs);
  jobs.get = (id: string) => {
    reads++;
    return get(id);
  };
  t.after(() => void (jobs.get = get));
  const sent: string[] = [];
  const nc = { publish: (subject: string) => void sent.push(subject) } as unknown as NatsConnection;
  const live = heard(Array.from({ length: 128 }, (_, i) => `a${i}`));
  let now = 0;
  const prefetch = assetPrefetcher({ store, nc, subjects: subjects("ns"), live: () => live, clock: () => now, log: silentLogger() });
  for (let i = 0; i < 128; i++) prefetch(`a${i}`, job.id);
  assert.equal(reads, 1, "one read of the job for 128 placed chunks");
  assert.equal(sent.length, 0, "the model is not in the store yet: nothing to fetch");

  store.models.put({ name: "m", sha256: SHA, size: 1234, manifestJson: "{}", license: "", source: "", addedAt: 1 });
  prefetch("a0", job.id);
  assert.equal(sent.length, 0, "within the minute the kept list stands");
  now += 61_000;
  for (let i = 0; i < 128; i++) prefetch(`a${i}`, job.id);
  assert.equal(reads, 2, "read again once after a minute");
  assert.equal(sent.length, 128, "each agent lacking the now stored model is told once");
});
