import assert from "node:assert/strict";
import { test } from "node:test";
import { FarmAvailability } from "../faults/farm-availability.ts";

test("while another agent is up, all of a recovery counts", () => {
  const a = new FarmAvailability(3, 0);
  a.agent(0, false, 1_000);
  assert.equal(a.possibleMs(1_000, 3_500), 2_500);
});

test("time with every agent down is left out, until the first one comes back", () => {
  const a = new FarmAvailability(2, 0);
  a.agent(0, false, 1_000);
  a.agent(1, false, 1_500);
  a.agent(1, true, 4_000);
  a.agent(0, true, 5_000);
  // Fault at 1 s: possible 1.0-1.5 s (agent 1 up), not 1.5-4 s, then 4-6 s.
  assert.equal(a.possibleMs(1_000, 6_000), 500 + 2_000);
  assert.equal(a.possibleMs(1_500, 4_000), 0);
});

test("a coordinator down counts against the agents' faults, not against its own kill", () => {
  const a = new FarmAvailability(2, 0);
  a.coordinator(false, 1_000);
  a.agent(0, false, 1_200);
  a.coordinator(true, 3_000);
  assert.equal(a.possibleMs(1_200, 4_000), 1_000);
  assert.equal(a.possibleMs(1_000, 4_000, false), 3_000);
  a.agent(1, false, 4_500);
  a.agent(1, true, 6_000);
  assert.equal(a.possibleMs(4_000, 7_000, false), 500 + 1_000, "its own kill still needs an agent");
});

test("nats-server down counts against the agents' faults, not against its own kill", () => {
  const a = new FarmAvailability(2, 0);
  a.agent(0, false, 1_000);
  a.bus(false, 2_000);
  a.bus(true, 5_000);
  // Link cut at 1 s, recovered at 6 s: 1-2 s and 5-6 s possible, not the outage between.
  assert.equal(a.possibleMs(1_000, 6_000), 2_000);
  assert.equal(a.possibleMs(2_000, 6_000, true, false), 4_000, "its own kill counts its outage");
  a.coordinator(false, 7_000);
  a.bus(false, 7_500);
  a.coordinator(true, 8_000);
  a.bus(true, 9_000);
  assert.equal(a.possibleMs(6_000, 10_000), 1_000 + 1_000, "either down leaves the time out");
});
