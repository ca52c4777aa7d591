/**
 * The disk-full guard polls the output root's free space only while a job
 * waits for it: paused by onDiskFull, or found paused for it at start (a
 * restart). A real SQLite store; the free-space reading is injected and the
 * jobs table's reads are counted.
 */
import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { DISK_FULL, DiskFullGuard } from "../../coordinator/sink/disk-full-guard.ts";
import type { Store } from "../../coordinator/store/store.ts";
import { eventually } from "../helpers/eventually.ts";
import { insertJob, openTempStore } from "../helpers/store-fixture.ts";
import { testLog } from "../helpers/test-log.ts";

const MIB = 1024 * 1024;
const PERIOD_MS = 20;

/** A guard on a temp store; counts its reads of the jobs table and of the free space. */
function guardOn(t: TestContext, store: Store, free: () => number): { guard: DiskFullGuard; reads: { jobs: number; free: number } } {
  const reads = { jobs: 0, free: 0 };
  const list = store.jobs.listInStates.bind(store.jobs);
  store.jobs.listInStates = (states) => {
    reads.jobs++;
    return list(states);
  };
  const guard = new DiskFullGuard(store, "/output", MIB, Date.now, testLog(), () => undefined, () => {
    reads.free++;
    return free();
  });
  t.after(() => guard.stop());
  return { guard, reads };
}

test("with no job waiting for space the guard reads nothing after start", async (t) => {
  const { store } = openTempStore(t);
  insertJob(store, { state: "running" });
  const { guard, reads } = guardOn(t, store, () => 0);
  guard.start(PERIOD_MS);
  const atStart = reads.jobs;
  await sleep(PERIOD_MS * 10);
  assert.equal(reads.jobs, atStart, "no poll while no job waits (it read the jobs table every period before)");
  assert.equal(reads.free, 0);
});

test("a job paused for a full disk is polled for until space is free, resumed, and then the polling stops", async (t) => {
  const { store } = openTempStore(t);
  const job = insertJob(store, { state: "running" });
  let free = 0;
  const { guard, reads } = guardOn(t, store, () => free);
  guard.start(PERIOD_MS);
  guard.onDiskFull(job.id, "no-such-attempt");
  assert.equal(store.jobs.get(job.id)?.state, "paused");
  assert.equal(store.jobs.get(job.id)?.pauseReason, DISK_FULL);
  await eventually(() => reads.free >= 3, "the free space polled while the job waits");
  assert.equal(store.jobs.get(job.id)?.state, "paused", "still full: still paused");

  free = 2 * MIB;
  await eventually(() => store.jobs.get(job.id)?.state === "running", "the job resumed once space is free");
  assert.equal(store.jobs.get(job.id)?.pauseReason, null);
  const after = { ...reads };
  await sleep(PERIOD_MS * 10);
  assert.deepEqual(reads, after, "no more polling once no job waits");
});

test("a job left paused for a full disk by an earlier run is polled for from start; one resumed by hand ends the polling", async (t) => {
  const { store } = openTempStore(t);
  const job = insertJob(store, { state: "paused" });
  store.jobs.setPauseReason(job.id, DISK_FULL);
  const { guard, reads } = guardOn(t, store, () => 0);
  guard.start(PERIOD_MS);
  await eventually(() => reads.free >= 2, "the free space polled for the job paused before the restart");

  store.jobs.transition(job.id, "running", Date.now(), "resumed by hand");
  store.jobs.setPauseReason(job.id, null);
  await sleep(PERIOD_MS * 3);
  const after = { ...reads };
  await sleep(PERIOD_MS * 10);
  assert.deepEqual(reads, after, "no more polling once no job waits");
});
