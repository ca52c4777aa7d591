/**
 * An answered commit's emptied staging dir is the next upload's staging dir
 * (renamed: coordinator/sink/staging-removals.ts), so uploads that follow
 * each other cost no removal per chunk; spares nobody takes are removed.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { STAGING_DIR, stagingDirFor } from "../../coordinator/sink/staging.ts";
import { SPARE_IDLE_MS } from "../../coordinator/sink/staging-removals.ts";
import type { UploadHeader } from "../../coordinator/sink/result-sink.ts";
import { ACCOUNTING, framePath, randomFrame as frame, setupSink as setup, startAttempt } from "../helpers/sink-fixture.ts";
import { eventually } from "../helpers/eventually.ts";

test("uploads that follow each other reuse the emptied staging dir instead of removing it and making a new one; every frame still commits", async (t) => {
  const s = setup(t);
  const removed: string[] = [];
  const removeDir = s.sink.staging.removeDir.bind(s.sink.staging);
  s.sink.staging.removeDir = (dir: string) => {
    removed.push(dir);
    return removeDir(dir);
  };
  const first = await s.sink.begin(s.header);
  for (const i of [0, 1, 2]) await first.addFrame(frame(i));
  assert.equal(await first.commit(ACCOUNTING), 3);

  const second = s.chunks[1]!;
  startAttempt(s.store, second.id, s.agent.id, "att_next");
  const header: UploadHeader = { ...s.header, chunkId: second.id, attemptId: "att_next" };
  const session = await s.sink.begin(header);
  assert.deepEqual(removed, [], "no staging dir removed between the two uploads");
  assert.deepEqual(readdirSync(join(s.outputRoot, STAGING_DIR)), ["att_next"], "the first upload's dir became the second's");
  assert.deepEqual(readdirSync(stagingDirFor(s.outputRoot, "att_next")), [], "and it is empty");
  for (const i of [3, 4, 5]) await session.addFrame(frame(i));
  assert.equal(await session.commit(ACCOUNTING), 3);
  for (const i of [0, 1, 2, 3, 4, 5]) assert.ok(existsSync(framePath(s.job, i)), `frame ${i} in place`);
  assert.equal(s.store.attempts.get("att_next")?.state, "committed");

  // Nobody takes the last spare: it goes once the sink is idle.
  await eventually(() => readdirSync(join(s.outputRoot, STAGING_DIR)).length === 0, "the unused spare to be removed", SPARE_IDLE_MS + 3000);
  assert.deepEqual(removed, [stagingDirFor(s.outputRoot, "att_next")]);
});
