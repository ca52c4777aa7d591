import { test } from "node:test";
import assert from "node:assert/strict";
import { ForeignGpuGate } from "../../agent/telemetry/foreign-gpu-gate.ts";
import { otherGpuUsers, type GpuProcessEntry } from "../../agent/probe/other-gpu-users.ts";
import { manualClock } from "../helpers/manual-clock.ts";

const OWN = [100];
const seen = (procs: GpuProcessEntry[]) => otherGpuUsers(procs, OWN);
const ownOnly = seen([{ pid: 100, usedBytes: 2 ** 30 }]);
const someoneElse = seen([{ pid: 100, usedBytes: 2 ** 30 }, { pid: 4242, usedBytes: 3 * 2 ** 30 }]);

test("free -> in-use -> cooling-down -> free after the card stayed free for freeForMs", () => {
  const clock = manualClock();
  const gate = new ForeignGpuGate(60_000, clock.now);
  gate.observe(ownOnly);
  assert.equal(gate.state, "free");
  assert.ok(gate.mayTakeWork(), "the agent's own memory is not foreign");

  gate.observe(someoneElse);
  assert.equal(gate.state, "in-use");
  assert.equal(gate.mayTakeWork(), false);
  assert.match(gate.note(), /pid 4242, 3\.0 GiB/);

  clock.advance(10_000);
  gate.observe(ownOnly);
  assert.equal(gate.state, "cooling-down");
  assert.equal(gate.mayTakeWork(), false);
  clock.advance(59_999);
  assert.equal(gate.mayTakeWork(), false, "one ms short of a free minute");
  assert.match(gate.note(), /GPU free for 59 s of 60 s/);
  clock.advance(1);
  assert.ok(gate.mayTakeWork(), "free for the whole minute: work resumes without another observation");
  assert.equal(gate.note(), "");
});

test("someone coming back during the cool-down restarts the wait", () => {
  const clock = manualClock();
  const gate = new ForeignGpuGate(30_000, clock.now);
  gate.observe(someoneElse);
  gate.observe(ownOnly);
  clock.advance(20_000);
  gate.observe(someoneElse);
  assert.equal(gate.state, "in-use");
  clock.advance(5_000);
  gate.observe(ownOnly);
  clock.advance(29_000);
  assert.equal(gate.mayTakeWork(), false, "the wait counts from when the card became free again");
  clock.advance(1_000);
  assert.ok(gate.mayTakeWork());
});

test("a source that cannot list processes changes nothing; freeForMs 0 resumes at once", () => {
  const clock = manualClock();
  const gate = new ForeignGpuGate(0, clock.now);
  gate.observe(null);
  assert.equal(gate.state, "free");
  gate.observe(someoneElse);
  gate.observe(null);
  assert.equal(gate.state, "in-use", "no list this time: still in use");
  gate.observe(ownOnly);
  assert.equal(gate.state, "free");
  assert.throws(() => new ForeignGpuGate(-1, clock.now), RangeError);
});
