import assert from "node:assert/strict";
import { test } from "node:test";
import { FarmAvailability } from "../faults/farm-availability.ts";

test("recovery is possible at the fault itself while another agent is up", () => {
  const a = new FarmAvailability(3, 0);
  a.agent(0, false, 1_000);
  assert.equal(a.possibleFrom(1_000), 1_000);
});

test("with every agent down, recovery becomes possible when the first one comes back", () => {
  const a = new FarmAvailability(2, 0);
  a.agent(0, false, 1_000);
  a.agent(1, false, 1_500);
  assert.equal(a.possibleFrom(1_500), undefined, "nothing came back yet");
  a.agent(1, true, 4_000);
  a.agent(0, true, 5_000);
  assert.equal(a.possibleFrom(1_500), 4_000);
  assert.equal(a.possibleFrom(4_500), 4_500);
});

test("a coordinator down delays the agents' faults, not its own kill's", () => {
  const a = new FarmAvailability(2, 0);
  a.coordinator(false, 1_000);
  a.agent(0, false, 1_200);
  a.coordinator(true, 3_000);
  assert.equal(a.possibleFrom(1_200), 3_000);
  assert.equal(a.possibleFrom(1_000, false), 1_000);
  a.agent(1, false, 3_500);
  a.agent(1, true, 6_000);
  assert.equal(a.possibleFrom(3_500, false), 6_000, "its own kill still needs an agent");
});
