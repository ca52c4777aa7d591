import assert from "node:assert/strict";
import { test } from "node:test";
import { JobNeedsCache } from "../../coordinator/scheduling/job-needs-cache.ts";
import { jobNeeds } from "../../coordinator/scheduling/farm-snapshot.ts";
import { ModelNeeds } from "../../coordinator/scheduling/model-needs.ts";
import { JobSpecs } from "../../coordinator/jobs/job-specs.ts";
import type { JobRow } from "../../coordinator/store/jobs-table.ts";
import type { Store } from "../../coordinator/store/store.ts";
import { insertAgent, insertJob, openTempStore } from "../helpers/store-fixture.ts";
import { tempDir } from "../helpers/temp-dir.ts";

/** The cache as wire-scheduling.ts builds it, over a real store, counting how often needs are computed. */
function cacheOver(store: Store, models: ModelNeeds) {
  const specs = new JobSpecs();
  let computed = 0;
  const cache = new JobNeedsCache(
    (job) => {
      computed++;
      return jobNeeds(job, specs, store, (name, sha) => models.memoryOf(name, sha));
    },
    () => `${store.blocklist.revision}|${store.models.revision}|${models.revision}`,
  );
  return { cache, computed: () => computed };
}

test("a job's needs are computed once and given again while nothing they are made of changes", (t) => {
  const { store } = openTempStore(t);
  const { cache, computed } = cacheOver(store, new ModelNeeds(tempDir(t, "ns-models-")));
  const job = insertJob(store, { id: "job_n" });
  const first = cache.of(job);
  assert.equal(cache.of(store.jobs.get(job.id) as JobRow), first);
  assert.equal(computed(), 1);
  // Chunk and job state changes are not part of the needs.
  store.jobs.transition(job.id, "running", 2_000);
  assert.equal(cache.of(store.jobs.get(job.id) as JobRow), first);
  assert.equal(computed(), 1);
});

test("a blocklisting, a store model and a new priority each show in the next answer", (t) => {
  const { store } = openTempStore(t);
  const { cache, computed } = cacheOver(store, new ModelNeeds(tempDir(t, "ns-models-")));
  const agent = insertAgent(store, { id: "agt_bad" });
  const job = insertJob(store, { id: "job_b", modelSha256: "cd".repeat(32) });
  assert.deepEqual(cache.of(job).blockedAgents, []);
  assert.equal(cache.of(job).modelFetchBytes, null);

  store.blocklist.recordFailure(job.id, agent.id, "boom", false, 2_000);
  assert.deepEqual(cache.of(job).blockedAgents, [], "a failure below the limit blocks nothing");
  store.blocklist.recordFailure(job.id, agent.id, "boom", true, 3_000);
  assert.deepEqual(cache.of(job).blockedAgents, ["agt_bad"], "blocklisted: seen at once");

  store.models.put({ name: "m", sha256: "cd".repeat(32), size: 1234, manifestJson: "{}", license: "", source: "", addedAt: 4_000 });
  assert.equal(cache.of(job).modelFetchBytes, 1234, "a model added to the store: its size is known at once");
  store.models.remove("m");
  assert.equal(cache.of(job).modelFetchBytes, null, "removed: gone at once");

  store.jobs.setPriority(job.id, 50);
  assert.equal(cache.of(store.jobs.get(job.id) as JobRow).priority, 50);
  const before = computed();
  cache.of(store.jobs.get(job.id) as JobRow);
  assert.equal(computed(), before, "and cached again after");
});

test("a re-read of the models directory recomputes (a manifest's memory need may have changed)", async (t) => {
  const { store } = openTempStore(t);
  const models = new ModelNeeds(tempDir(t, "ns-models-"), 0);
  const { cache, computed } = cacheOver(store, models);
  const job = insertJob(store);
  cache.of(job);
  await models.refreshIfUnknown([{ name: "not-there", sha256: "ef".repeat(32) }], 10_000);
  cache.of(job);
  assert.equal(computed(), 2);
});
