/**
 * The one job watch (coordinator/control/job-watch.ts) behind both `nightshift
 * watch` (gRPC WatchJob) and the dashboard: over gRPC it streams changing
 * views of a job and ends the stream once the job is done; an unknown job is
 * refused.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { generatedJob, startTestCoordinator, tempDir } from "../support/farm.ts";
import { startLocalAgent } from "../helpers/local-agent.ts";
import { Control } from "../../cli/control-client.ts";
import { adminChannel } from "../../cli/admin-credentials.ts";

test("WatchJob streams a job to done and ends; an unknown job is refused", { timeout: 90_000 }, async (t) => {
  const dir = tempDir(t, "ns-watch-");
  const c = await startTestCoordinator(t, dir);
  const jobId = (await c.api.submit(JSON.stringify(generatedJob("watched", 12, 32, 32, 3)), dir)).jobId;
  const control = new Control(c.address, adminChannel({ dataDir: join(dir, "data") }));
  t.after(() => control.close());
  await startLocalAgent(t, c, dir, "watch-agent");
  const seen: Array<{ state: string; framesDone: number }> = [];
  for await (const v of control.watch(jobId)) seen.push({ state: v.state, framesDone: v.framesDone });
  assert.equal(seen.at(-1)?.state, "done");
  assert.equal(seen.at(-1)?.framesDone, 12);
  assert.equal(seen.filter((v) => v.state === "done").length, 1, "the stream ends at the terminal state");
  await assert.rejects(async () => {
    for await (const _ of control.watch("job_nope")) void _;
  }, /no job/);
});
