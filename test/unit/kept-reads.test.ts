import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Store } from "../../coordinator/store/store.ts";
import { KeptReads } from "../../coordinator/scheduling/kept-reads.ts";
import { onlineAgents, queuedChunks, runningRows } from "../../coordinator/scheduling/snapshot-queries.ts";
import { CHUNK_TRANSITIONS, type ChunkState } from "../../shared/lifecycle/states.ts";
import { insertAgent, insertJob } from "../helpers/store-fixture.ts";

/** The kept rows must equal a full read of the store, in the same order. */
function assertSame(kept: KeptReads, store: Store, step: string): void {
  assert.equal(kept.refresh(), true, step);
  assert.deepEqual(kept.onlineAgents(), onlineAgents(store), `online agents after ${step}`);
  assert.deepEqual(kept.queuedChunks(), queuedChunks(store), `queued chunks after ${step}`);
  assert.deepEqual(kept.runningRows(), runningRows(store), `running attempts after ${step}`);
}

function tempStore(): { store: Store; path: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "ns-kept-"));
  const path = join(dir, "store.sqlite");
  const store = Store.open(path);
  return { store, path, done: () => (store.close(), rmSync(dir, { recursive: true, force: true })) };
}

/** A seeded generator, so a failure is replayed exactly. */
function lcg(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
}

test("kept reads equal a re-read after every kind of chunk, attempt and agent change", () => {
  const { store, done } = tempStore();
  try {
    const kept = new KeptReads(store, false);
    assertSame(kept, store, "start");
    const a1 = insertAgent(store, { id: "agt_a" });
    insertAgent(store, { id: "agt_b" });
    assertSame(kept, store, "agents joined");
    const job = insertJob(store, { id: "job_1", frameEnd: 39 });
    for (let i = 0; i < 8; i++) store.chunks.insert({ id: `job_1.c${i}`, jobId: job.id, idx: i, frameStart: i * 5, frameEnd: i * 5 + 4, contextStart: i * 5, contextEnd: i * 5 + 4, updatedAt: 1 });
    assertSame(kept, store, "chunks inserted");
    store.chunks.transition("job_1.c0", "queued", 2, { dispatchId: "d0", placedAgentId: null });
    store.chunks.transition("job_1.c1", "queued", 2, { dispatchId: "d1", placedAgentId: "agt_b" });
    store.chunks.transition("job_1.c2", "queued", 2, { dispatchId: "d2", placedAgentId: "agt_a" });
    store.chunks.transition("job_1.c3", "queued", 2, { dispatchId: "d3", placedAgentId: null });
    assertSame(kept, store, "queued on the pool and on agents");
    store.attempts.insert({ id: "att_1", chunkId: "job_1.c0", jobId: job.id, agentId: a1.id, createdAt: 3 });
    store.chunks.transition("job_1.c0", "running", 3, { currentAttemptId: "att_1", countAttempt: true });
    assertSame(kept, store, "claimed");
    store.chunks.setAttempts("job_1.c0", { specDispatchId: "dspec", specAgentId: "agt_b" });
    assertSame(kept, store, "speculative copy dispatched (hasCopy)");
    store.attempts.insert({ id: "att_2", chunkId: "job_1.c0", jobId: job.id, agentId: "agt_b", createdAt: 4 });
    store.chunks.setAttempts("job_1.c0", { specAttemptId: "att_2" });
    assertSame(kept, store, "copy claimed (speculative)");
    store.attempts.finish("att_1", "superseded", 5);
    store.chunks.setAttempts("job_1.c0", { currentAttemptId: "att_2", specDispatchId: null, specAgentId: null, specAttemptId: null });
    assertSame(kept, store, "copy won");
    store.attempts.finish("att_2", "committed", 6);
    store.chunks.transition("job_1.c0", "done", 6);
    assertSame(kept, store, "committed");
    store.chunks.transition("job_1.c1", "pending", 7, { dispatchId: null });
    store.chunks.shorten("job_1.c1", 6, 6, 7);
    store.chunks.insert({ id: "job_1.c8", jobId: job.id, idx: 8, frameStart: 7, frameEnd: 9, contextStart: 7, contextEnd: 9, updatedAt: 7 });
    store.chunks.transition("job_1.c8", "queued", 7, { dispatchId: "d8", placedAgentId: "agt_a" });
    assertSame(kept, store, "end of job cut: taken back, shortened, piece inserted and placed");
    store.attempts.insert({ id: "att_3", chunkId: "job_1.c2", jobId: job.id, agentId: a1.id, createdAt: 8 });
    store.chunks.transition("job_1.c2", "running", 8, { currentAttemptId: "att_3", countAttempt: true });
    store.attempts.finish("att_3", "lost", 9, "agent silent");
    store.chunks.transition("job_1.c2", "pending", 9, { currentAttemptId: null, dispatchId: null });
    assertSame(kept, store, "lost and requeued");
    store.chunks.transition("job_1.c3", "cancelled", 10, { dispatchId: null });
    store.agents.transition("agt_b", "offline");
    assertSame(kept, store, "cancelled, agent offline");
    store.agents.touch("agt_a", 11);
    store.agents.touchMany(new Map([["agt_a", 12], ["agt_b", 12]]));
    assertSame(kept, store, "heartbeat (last_seen only)");
    store.agents.upsert({ ...store.agents.get("agt_a")!, name: "renamed", now: 13 });
    store.agents.transition("agt_b", "online");
    assertSame(kept, store, "agent renamed and back online");
    store.db.prepare(`DELETE FROM chunks WHERE id = 'job_1.c8'`).run();
    assertSame(kept, store, "chunk deleted");
  } finally {
    done();
  }
});

test("a rolled-back transaction or savepoint leaves the kept rows equal to the store; inside a transaction nothing is kept", () => {
  const { store, done } = tempStore();
  try {
    const kept = new KeptReads(store, false);
    insertAgent(store, { id: "agt_a" });
    const job = insertJob(store, { id: "job_1", frameEnd: 9 });
    for (let i = 0; i < 3; i++) store.chunks.insert({ id: `job_1.c${i}`, jobId: job.id, idx: i, frameStart: i, frameEnd: i, contextStart: i, contextEnd: i, updatedAt: 1 });
    assertSame(kept, store, "seeded");
    assert.throws(() =>
      store.tx(() => {
        store.chunks.transition("job_1.c0", "queued", 2, { dispatchId: "d0" });
        throw new Error("rolled back");
      }),
    );
    assertSame(kept, store, "rolled back");
    const results = store.txEach([
      () => store.chunks.transition("job_1.c1", "queued", 3, { dispatchId: "d1" }),
      () => {
        store.chunks.transition("job_1.c2", "queued", 3, { dispatchId: "d2" });
        throw new Error("this savepoint only");
      },
    ]);
    assert.deepEqual(results.map((r) => r.ok), [true, false]);
    assertSame(kept, store, "one savepoint rolled back");
    assert.deepEqual(kept.queuedChunks().map((q) => q.chunkId), ["job_1.c1"]);
    store.tx(() => {
      store.chunks.transition("job_1.c2", "queued", 4, { dispatchId: "d2b" });
      assert.equal(kept.refresh(), false, "no refresh inside a transaction");
    });
    assertSame(kept, store, "after the transaction");
  } finally {
    done();
  }
});

test("another connection's commit and a bulk change make the kept rows read everything again", () => {
  const { store, path, done } = tempStore();
  try {
    const kept = new KeptReads(store, false);
    insertAgent(store, { id: "agt_a" });
    const job = insertJob(store, { id: "job_1", frameEnd: 999 });
    assertSame(kept, store, "seeded");
    const other = Store.open(path);
    try {
      other.tx(() => {
        for (let i = 0; i < 3; i++) other.chunks.insert({ id: `job_1.c${i}`, jobId: job.id, idx: i, frameStart: i, frameEnd: i, contextStart: i, contextEnd: i, updatedAt: 1 });
        other.chunks.transition("job_1.c1", "queued", 2, { dispatchId: "d1" });
      });
    } finally {
      other.close();
    }
    assertSame(kept, store, "another connection's commit");
    assert.equal(kept.queuedChunks().length, 1);
    store.tx(() => {
      for (let i = 3; i < 700; i++) {
        store.chunks.insert({ id: `job_1.c${i}`, jobId: job.id, idx: i, frameStart: i, frameEnd: i, contextStart: i, contextEnd: i, updatedAt: 1 });
        store.chunks.transition(`job_1.c${i}`, "queued", 2, { dispatchId: `d${i}`, placedAgentId: i % 3 === 0 ? null : `agt_${i % 5}` });
      }
    });
    assertSame(kept, store, "700 chunks queued at once");
  } finally {
    done();
  }
});

test("kept reads stay equal to the store through 400 random chunk and attempt changes", () => {
  const { store, done } = tempStore();
  try {
    // With the check on, every refresh also compares itself with the full reads and throws on a difference.
    const kept = new KeptReads(store, true);
    const agents = ["agt_a", "agt_b", "agt_c"];
    for (const id of agents) insertAgent(store, { id });
    const job = insertJob(store, { id: "job_r", frameEnd: 999 });
    const rnd = lcg(15);
    const chunks: string[] = [];
    let attempts = 0;
    let most = { running: 0, queued: 0 };
    for (let step = 0; step < 400; step++) {
      const now = 10 + step;
      if (chunks.length < 5 || rnd(4) === 0) {
        const i = chunks.length;
        const id = `job_r.c${String(i).padStart(3, "0")}`;
        store.chunks.insert({ id, jobId: job.id, idx: i, frameStart: i, frameEnd: i + rnd(3), contextStart: i, contextEnd: i, updatedAt: now });
        chunks.push(id);
      }
      const id = chunks[rnd(chunks.length)] as string;
      const c = store.chunks.get(id);
      if (!c) continue;
      // Chunks end (done, failed, cancelled) one change in four, so that work stays open.
      const open = CHUNK_TRANSITIONS[c.state].filter((t) => t === "pending" || t === "queued" || t === "running");
      const next = open.length > 0 && rnd(4) !== 0 ? open : CHUNK_TRANSITIONS[c.state];
      if (next.length === 0) continue;
      const to = next[rnd(next.length)] as ChunkState;
      const agent = agents[rnd(agents.length)] as string;
      store.tx(() => {
        if (c.currentAttemptId !== null && c.state === "running") store.attempts.finish(c.currentAttemptId, to === "done" ? "committed" : "lost", now);
        if (to === "running") {
          const att = `att_${++attempts}`;
          store.attempts.insert({ id: att, chunkId: id, jobId: job.id, agentId: agent, createdAt: now });
          store.chunks.transition(id, "running", now, { currentAttemptId: att, countAttempt: true });
          if (rnd(3) === 0) store.chunks.setAttempts(id, { specDispatchId: `dspec${step}`, specAgentId: agent });
        } else store.chunks.transition(id, to, now, { dispatchId: to === "queued" ? `d${step}` : null, currentAttemptId: null, ...(to === "queued" ? { placedAgentId: rnd(2) === 0 ? null : agent } : {}) });
      });
      if (rnd(20) === 0) store.agents.transition(agent, store.agents.get(agent)?.state === "online" ? "offline" : "online");
      if (rnd(4) !== 0) {
        assertSame(kept, store, `step ${step}`);
        most = { running: Math.max(most.running, kept.runningRows().length), queued: Math.max(most.queued, kept.queuedChunks().length) };
      }
    }
    assertSame(kept, store, "end");
    assert.ok(most.running >= 2 && most.queued >= 2, `the sequence had work queued and running at once: ${JSON.stringify(most)}`);
  } finally {
    done();
  }
});
