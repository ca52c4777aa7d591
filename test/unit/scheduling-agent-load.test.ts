import assert from "node:assert/strict";
import { test } from "node:test";
import { agent, loadOf, NOW, policy, running, speeds } from "../helpers/scheduling-fixtures.ts";

/**
 * AgentLoad keeps each agent's free time as chunks are added and removed
 * (placement asks it once per eligible agent and chunk): it must equal the
 * sum over the agent's timeline, exactly, whatever was added, removed and
 * re-added, since placement compares agents' finish times for equality.
 */

test("an agent's free time, kept as work is added and removed, equals its timeline summed again, to the last bit", () => {
  const agents = ["a", "b", "c", "d"].map((id) => agent(id));
  const book = speeds({ a: 3, b: 7, c: 0.3 }); // d: nothing measured
  const load = loadOf(agents, book, {
    policy: policy({ chunkOverheadSeconds: 0.13 }),
    running: [running("a", "r1", 10, NOW - 700, { jobId: "j" }), running("c", "r2", 3, NOW - 5000, { jobId: "j", framesDone: 1, elapsedMs: 2900, reportedAtMs: NOW - 100 })],
    waiting: [{ chunkId: "w1", jobId: "j", agentId: "b", frames: 7 }],
  });
  let seed = 7;
  const next = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  const added: string[] = [];
  for (let step = 0; step < 400; step++) {
    const id = agents[next(agents.length)]!.id;
    if (next(5) === 0 && added.length > 0) {
      const gone = new Set(added.splice(0, 1 + next(Math.min(3, added.length))));
      load.remove(gone);
    } else {
      const chunkId = `c${step}`;
      load.add(id, "j", 1 + next(9), chunkId);
      added.push(chunkId);
    }
    for (const a of agents) assert.equal(load.freeAt(a.id), load.freeAtWithout(a.id, () => false), `agent ${a.id} after step ${step}`);
  }
  assert.ok(load.freeAt("b") > NOW, "b has work waiting");
  assert.equal(load.freeAt("unknown"), NOW, "an agent the pass does not know is free now");
});

test("an agent's speed on a job is read once per pass and stays what it was (measured, else progress, else nominal)", () => {
  const book = speeds({ a: 4 });
  let reads = 0;
  const measured = book.measured.bind(book);
  book.measured = (agentId: string, model: string) => {
    reads++;
    return measured(agentId, model);
  };
  const load = loadOf([agent("a"), agent("z")], book);
  const first = [load.fps("a", "j"), load.fps("z", "j")];
  const before = reads;
  for (let i = 0; i < 100; i++) assert.deepEqual([load.fps("a", "j"), load.fps("z", "j")], first);
  assert.equal(reads, before, "no further reads of the speed book");
  assert.equal(first[0], 4);
});
