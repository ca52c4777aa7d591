import assert from "node:assert/strict";
import { test } from "node:test";
import { IllegalTransitionError } from "../../shared/errors.ts";
import { assertTransition, canTransition, type Transitions } from "../../shared/lifecycle/state-machine.ts";
import { AGENT_TRANSITIONS, ATTEMPT_TRANSITIONS, CHUNK_TRANSITIONS, JOB_TRANSITIONS } from "../../shared/lifecycle/states.ts";
import { insertAgent, insertChunks, insertJob, openTempStore } from "../helpers/store-fixture.ts";

const TABLES: Record<string, Transitions<string>> = {
  job: JOB_TRANSITIONS,
  chunk: CHUNK_TRANSITIONS,
  attempt: ATTEMPT_TRANSITIONS,
  agent: AGENT_TRANSITIONS,
};

test("assertTransition allows listed moves and throws IllegalTransitionError naming entity, from and to otherwise", () => {
  assert.doesNotThrow(() => assertTransition("job j1", JOB_TRANSITIONS, "queued", "running"));
  assert.throws(
    () => assertTransition("job j1", JOB_TRANSITIONS, "done", "running"),
    (err: unknown) =>
      err instanceof IllegalTransitionError && err.entity === "job j1" && err.from === "done" && err.to === "running" && err.message === "job j1: illegal transition done -> running",
  );
  assert.equal(canTransition(CHUNK_TRANSITIONS, "queued", "running"), true);
  assert.equal(canTransition(CHUNK_TRANSITIONS, "pending", "done"), false);
  // A state missing from the table (bad data from disk) is refused, not a crash.
  assert.equal(canTransition(CHUNK_TRANSITIONS, "bogus" as never, "done"), false);
  assert.throws(() => assertTransition("chunk c", CHUNK_TRANSITIONS, "bogus" as never, "done"), IllegalTransitionError);
});

test("every table is closed: targets are known states, and terminal states have no way out", () => {
  for (const [name, table] of Object.entries(TABLES)) {
    const states = Object.keys(table);
    for (const [from, tos] of Object.entries(table)) {
      for (const to of tos) assert.ok(states.includes(to), `${name}: ${from} -> ${to} targets a known state`);
    }
  }
  for (const s of ["done", "failed", "cancelled"] as const) assert.deepEqual(JOB_TRANSITIONS[s], [], `job ${s} is terminal`);
  for (const s of ["done", "failed", "cancelled"] as const) assert.deepEqual(CHUNK_TRANSITIONS[s], [], `chunk ${s} is terminal`);
  for (const s of ["committed", "failed", "lost", "superseded", "cancelled", "handed-back"] as const) assert.deepEqual(ATTEMPT_TRANSITIONS[s], []);
  assert.deepEqual(AGENT_TRANSITIONS.removed, []);
});

test("store: a done job cannot go back to running, and the row is unchanged", (t) => {
  const { store } = openTempStore(t);
  const job = insertJob(store);
  store.jobs.transition(job.id, "running", 2_000);
  store.jobs.transition(job.id, "done", 3_000);
  assert.throws(() => store.jobs.transition(job.id, "running", 4_000), IllegalTransitionError);
  const row = store.jobs.get(job.id);
  assert.equal(row?.state, "done");
  assert.equal(row?.startedAt, 2_000);
  assert.equal(row?.finishedAt, 3_000);
});

test("store: a pending chunk cannot jump to done, and the row is unchanged", (t) => {
  const { store } = openTempStore(t);
  const job = insertJob(store);
  const [chunk] = insertChunks(store, job.id, [[0, 4]]);
  assert.throws(
    () => store.chunks.transition(chunk!.id, "done", 2_000, { countAttempt: true }),
    (err: unknown) => err instanceof IllegalTransitionError && err.from === "pending" && err.to === "done",
  );
  const row = store.chunks.get(chunk!.id);
  assert.equal(row?.state, "pending");
  assert.equal(row?.attempts, 0);
  assert.equal(row?.updatedAt, 1_000);
});

test("store: finished attempts and removed agents are final", (t) => {
  const { store } = openTempStore(t);
  const job = insertJob(store);
  const [chunk] = insertChunks(store, job.id, [[0, 4]]);
  const agent = insertAgent(store);
  store.attempts.insert({ id: "att_1", chunkId: chunk!.id, jobId: job.id, agentId: agent.id, createdAt: 1_000 });
  store.attempts.finish("att_1", "committed", 2_000);
  assert.throws(() => store.attempts.finish("att_1", "failed", 3_000, "late"), IllegalTransitionError);
  assert.equal(store.attempts.get("att_1")?.state, "committed");
  assert.equal(store.attempts.get("att_1")?.error, null);

  store.agents.transition(agent.id, "removed");
  assert.throws(() => store.agents.transition(agent.id, "online"), IllegalTransitionError);
  assert.equal(store.agents.get(agent.id)?.state, "removed");
});
