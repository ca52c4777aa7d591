import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { SleepFarm, sleepJob, type SleepAgentSpec } from "../../bench/scheduling/sleep-farm.ts";
import type { ExecutorTask } from "../../agent/executors/executor.ts";
import { defer } from "../helpers/defer.ts";
import { eventually } from "../helpers/eventually.ts";
import { tempDir } from "../helpers/temp-dir.ts";
import { testLog } from "../helpers/test-log.ts";

/**
 * The scheduler against a real coordinator (embedded nats-server, store, gRPC)
 * and real in-process agents whose executor sleeps a controlled time per frame
 * (agent/executors/sleep-executor.ts). No speed is asserted; the margins
 * between the agents' speeds are wide so that the decisions are unambiguous.
 */

interface Started {
  agent: string;
  jobId: string;
  chunkId: string;
  attemptId: string;
  frames: number;
  aborted: string | null;
}

async function farmWith(t: TestContext, msPerFrame: number, agents: SleepAgentSpec[], clock?: () => number) {
  const dir = tempDir(t, "nightshift-sched-");
  const starts: Started[] = [];
  const onStart = (agent: string, task: ExecutorTask): void => {
    const s: Started = { agent, jobId: task.jobId, chunkId: task.chunkId, attemptId: task.attemptId, frames: task.frames.length, aborted: null };
    starts.push(s);
    task.signal.addEventListener("abort", () => (s.aborted = String((task.signal.reason as Error | undefined)?.message ?? task.signal.reason)), { once: true });
  };
  const farm = await SleepFarm.start({ dir, msPerFrame, log: testLog(), onStart, ...(clock ? { clock } : {}) });
  defer(t, () => farm.stop());
  await farm.addAgents(agents);
  const c = farm.coordinator;
  const idOf = (name: string): string => c.store.agents.list().find((a) => a.name === name)?.id ?? "";
  const submit = async (spec: Record<string, unknown>): Promise<string> => (await c.api.submit(JSON.stringify(spec), dir)).jobId;
  const run = async (spec: Record<string, unknown>): Promise<string> => {
    const id = await submit(spec);
    const job = await c.finisher.waitFor(id);
    assert.equal(job.state, "done", `${String(spec.name)}: ${job.message ?? ""}`);
    return id;
  };
  return { farm, c, starts, idOf, submit, run, dir };
}

test("speculation: an idle fast agent copies the chunk a slow agent would finish last; the copy wins, the slow attempt is cancelled over NATS", async (t) => {
  const { c, starts, idOf, submit, run } = await farmWith(t, 50, [
    { name: "fast", speed: 1, tags: ["fast"] },
    { name: "slow", speed: 0.1, tags: ["slow"] },
  ]);
  // Measure both agents (jobs only one of them may run): fast 20 frames/s, slow 2 frames/s.
  await run(sleepJob("warm-slow", 2, 2, { constraints: { tags: ["slow"] } }));
  await run(sleepJob("warm-fast", 2, 2, { constraints: { tags: ["fast"] } }));
  // The fast agent is busy (1 s) when the main job's only chunk arrives, so the slow agent takes it (5 s of work).
  const busy = await submit(sleepJob("keep-fast-busy", 20, 20, { priority: 10, constraints: { tags: ["fast"] } }));
  await eventually(() => starts.some((s) => s.jobId === busy), "the fast agent to start its job", 10_000);
  const main = await submit(sleepJob("main", 10, 10));
  await eventually(() => starts.some((s) => s.jobId === main && s.agent === "slow"), "the slow agent to start the main chunk", 10_000);
  const job = await c.finisher.waitFor(main);
  assert.equal(job.state, "done");

  const [chunk] = c.store.chunks.listByJob(main);
  assert.ok(chunk);
  const attempts = c.store.attempts.listByChunk(chunk.id);
  assert.deepEqual(attempts.map((a) => [a.agentId, a.state]), [[idOf("slow"), "superseded"], [idOf("fast"), "committed"]]);
  assert.equal(chunk.currentAttemptId, attempts[1]?.id, "the copy's attempt is the chunk's");
  assert.equal(c.store.frames.countByJob(main), 10);
  assert.deepEqual(new Set(c.store.frames.listByJob(main).map((f) => f.agentId)), new Set([idOf("fast")]));
  // The slow agent was told over <p>.ctl.<agentId> and stopped its executor.
  await eventually(() => starts.find((s) => s.attemptId === attempts[0]?.id)?.aborted !== null, "the slow attempt to be aborted", 5000);
  assert.match(starts.find((s) => s.attemptId === attempts[0]?.id)?.aborted ?? "", /cancelled by the coordinator: superseded/);
  assert.equal(c.store.ledger.listByJob(main).length, 1, "only the winner is accounted");
});

test("end of a job: the remaining chunks are cut by measured speed and placed on each agent's own subject; every frame once", async (t) => {
  const { c, idOf, run } = await farmWith(t, 50, [
    { name: "fast", speed: 1, tags: ["fast"] },
    { name: "slow", speed: 0.1, tags: ["slow"] },
  ]);
  await run(sleepJob("warm-slow", 2, 2, { constraints: { tags: ["slow"] } }));
  await run(sleepJob("warm-fast", 2, 2, { constraints: { tags: ["fast"] } }));
  // Four 10-frame chunks: the pool would give one to the slow agent (5 s); cut by speed, it gets a few frames.
  const id = await run(sleepJob("mixed", 40, 10));
  const chunks = c.store.chunks.listByJob(id);
  assert.ok(chunks.length > 4, `the four planned chunks were cut (got ${chunks.length})`);
  assert.equal(chunks.reduce((n, ch) => n + ch.frameEnd - ch.frameStart + 1, 0), 40, "the pieces cover the job exactly");
  const covered = chunks.flatMap((ch) => Array.from({ length: ch.frameEnd - ch.frameStart + 1 }, (_, i) => ch.frameStart + i)).sort((a, b) => a - b);
  assert.deepEqual(covered, Array.from({ length: 40 }, (_, i) => i));
  assert.ok(chunks.every((ch) => ch.placedAgentId !== null), "every piece was placed on an agent's own subject");
  const frames = c.store.frames.listByJob(id);
  assert.deepEqual(frames.map((f) => f.frame), Array.from({ length: 40 }, (_, i) => i), "every frame committed once");
  // How many frames the slow card ends up with is a speed outcome (it depends on when each agent pulls under
  // load): it is measured in bench/scheduling (mixedMakespanRatio), not asserted here. Seen: 2-4 alone, 10 once
  // in a full-suite run.
  const slowFrames = frames.filter((f) => f.agentId === idOf("slow")).length;
  t.diagnostic(`the slow agent rendered ${slowFrames} of 40 frames`);
});

test("placement: constrained jobs reach only agents that may run them; a job no agent can run is held with the reason", async (t) => {
  const { c, idOf, submit, run, starts } = await farmWith(t, 5, [
    { name: "small", speed: 1, vramBytes: 8 * 2 ** 30 },
    { name: "big", speed: 1, vramBytes: 24 * 2 ** 30, tags: ["cuda"] },
  ]);
  const vram = await run(sleepJob("needs-12g", 12, 2, { constraints: { minVram: "12GiB" } }));
  assert.deepEqual(new Set(c.store.frames.listByJob(vram).map((f) => f.agentId)), new Set([idOf("big")]));
  const tagged = await run(sleepJob("needs-cuda", 6, 2, { constraints: { tags: ["cuda"] } }));
  assert.deepEqual(new Set(c.store.frames.listByJob(tagged).map((f) => f.agentId)), new Set([idOf("big")]));
  const held = await submit(sleepJob("needs-rtx", 4, 2, { constraints: { tags: ["rtx"] } }));
  await eventually(() => /no online agent can run this job/.test(c.store.jobs.get(held)?.message ?? ""), "the held job's message", 5000);
  assert.match(c.store.jobs.get(held)?.message ?? "", /small lacks tag rtx/);
  assert.match(c.store.jobs.get(held)?.message ?? "", /big lacks tag rtx/);
  assert.equal(starts.filter((s) => s.jobId === held).length, 0);
  assert.equal(c.store.chunks.counts(held).open, 2, "its chunks wait");
});

test("priorities, pause, resume and cancel: a later high-priority job overtakes; pause holds; cancel aborts the running chunk over NATS", async (t) => {
  const { c, starts, submit } = await farmWith(t, 100, [{ name: "solo", speed: 1 }]);
  const low = await submit(sleepJob("low", 32, 2, { priority: 0 }));
  await eventually(() => starts.some((s) => s.jobId === low), "the low job to start", 10_000);
  const high = await submit(sleepJob("high", 4, 2, { priority: 50 }));
  // The low chunks already handed out when the high job came (queued in the pool or on the agent's own subject,
  // claimed, run): NATS delivers those in order, so only they may start before the high job's chunks.
  const handedOut = new Set(c.store.chunks.listByJob(low).filter((ch) => ch.state !== "pending").map((ch) => ch.id));
  await c.finisher.waitFor(high);
  const order = starts.map((s) => s.jobId);
  const lastHigh = order.lastIndexOf(high);
  const lateLow = starts.slice(0, lastHigh + 1).filter((s) => s.jobId === low && !handedOut.has(s.chunkId));
  assert.deepEqual(lateLow, [], `high overtook the low backlog: ${handedOut.size} low handed out at submit, then ${order.join(",")}`);
  assert.ok(c.store.chunks.counts(low).open >= 3, "most of the low job was still to do when the high job was done");

  // The chunks of a job the coordinator has granted (an attempt is made at the claim). Counted rather than the
  // executors' starts: on a loaded machine a granted chunk may start well after its claim.
  const claimedOf = (jobId: string): Set<string> => new Set(c.store.chunks.listByJob(jobId).flatMap((ch) => c.store.attempts.listByChunk(ch.id).map((a) => a.id)));
  // Pause: what runs finishes, nothing new starts; resume: it completes. What the agent had claimed before the
  // pause may still start after it (how many depends on how far the agent had got), nothing else.
  c.api.pause(low);
  const claimedAtPause = claimedOf(low);
  await new Promise((r) => setTimeout(r, 600));
  assert.deepEqual(claimedOf(low), claimedAtPause, "no chunk of a paused job is claimed");
  const startedAfter = starts.filter((s) => s.jobId === low && !claimedAtPause.has(s.attemptId));
  assert.deepEqual(startedAfter, [], "only chunks already claimed start after pause");
  c.api.resume(low);
  assert.equal((await c.finisher.waitFor(low)).state, "done");

  // Cancel: the running chunk's executor is aborted through the agent's control subject.
  const long = await submit(sleepJob("long", 50, 50));
  await eventually(() => starts.some((s) => s.jobId === long), "the long chunk to start", 10_000);
  c.api.cancel(long);
  const s = starts.find((x) => x.jobId === long);
  await eventually(() => s?.aborted !== null, "the agent to abort the cancelled attempt", 10_000);
  assert.match(s?.aborted ?? "", /cancelled by the coordinator: job cancelled/);
  assert.equal(c.store.attempts.get(s?.attemptId ?? "")?.state, "cancelled");
  assert.equal(c.store.jobs.get(long)?.state, "cancelled");
});

test("window: notBefore holds a job until then (injected clock), and doneBy warns when the measured ETA is past it", async (t) => {
  // When the job is submitted, the coordinator's clock reads 21:59:00 local time: the window cannot open while the
  // test looks at the hold. Only then is the clock moved on to 21:59:59, and the window opens a second later. (The
  // clock used to read 21:59:57 at the submit, so the hold had to be seen within three seconds: on a loaded
  // machine the window could open first.) The warm-up run before the submit may take seconds under load.
  const at = new Date();
  at.setHours(21, 59, 0, 0);
  const opensAt = at.getTime() + 60_000;
  let offset = at.getTime() - 3_600_000 - Date.now(); // an hour earlier while warming up
  const { c, starts, submit, run } = await farmWith(t, 50, [{ name: "solo", speed: 1 }], () => Date.now() + offset);
  await run(sleepJob("warm", 4, 2)); // 20 frames/s measured
  offset = at.getTime() - Date.now();
  const id = await submit(sleepJob("tonight", 2000, 100, { window: { notBefore: "22:00", doneBy: "22:01" } }));
  // The hold and the doneBy warning may come from two dispatch passes; the measured speed is near 20 frames/s
  // (sleeping 50 ms a frame), a little under it on a loaded machine. The estimate counts from 22:00 (2000 frames,
  // 100 s): past 22:01 whenever it is made before the window opens.
  await eventually(
    () => /waiting for window.notBefore 22:00/.test(c.store.jobs.get(id)?.message ?? "") && /cannot be met/.test(c.store.jobs.get(id)?.message ?? ""),
    "the job to be held with the doneBy warning",
    10_000,
    10,
  );
  const held = c.store.jobs.get(id)?.message ?? "";
  assert.match(held, /window.doneBy 22:01 cannot be met: estimated finish \S+ \d\d:\d\d \(2000 frames left at (1\d|20)\.\d frames\/s\)/);
  assert.ok(Date.now() + offset < opensAt, "the hold was seen before 22:00 by the coordinator's clock");
  assert.equal(starts.filter((s) => s.jobId === id).length, 0, "nothing starts before 22:00");
  assert.equal(c.store.jobs.get(id)?.state, "queued");
  offset = opensAt - 1_000 - Date.now();
  await eventually(() => starts.some((s) => s.jobId === id), "the job to start once the window opens", 10_000);
  assert.ok(Date.now() + offset >= opensAt, "not before 22:00 by the coordinator's clock");
  await eventually(() => !/waiting for/.test(c.store.jobs.get(id)?.message ?? ""), "the hold note to go", 3000);
  assert.match(c.store.jobs.get(id)?.message ?? "", /cannot be met/, "the doneBy warning stays while it cannot be met");
  c.api.cancel(id);
});
