import assert from "node:assert/strict";
import { test } from "node:test";
import { livenessRules, silentAgentVerdict, type SilenceProbes } from "../../coordinator/agents/silent-agent-verdict.ts";
import { DEFAULT_FARM_POLICY } from "../../coordinator/dispatch/farm-policy.ts";

const r = livenessRules(DEFAULT_FARM_POLICY); // heartbeat 1 s, timeout 4 s: probe after 2 s, starved limit 12 s
const NOW = 100_000;
const none: SilenceProbes = { inFlight: false };
const last = (answer: "answered" | "refused" | "no-answer", agoMs = 100, inFlight = false): SilenceProbes => ({ inFlight, last: { answer, startedAt: NOW - agoMs } });
const v = (silentMs: number, p: SilenceProbes, canProbe = true) => silentAgentVerdict(silentMs, p, canProbe, NOW, r);

test("the rules come from the policy: probe after one and a half heartbeats, starved limit 3 x agentTimeoutMs", () => {
  assert.deepEqual(r, { probeAfterMs: 1500, probeTimeoutMs: 500, reprobeMs: 1000, starvedLimitMs: 12_000, agentTimeoutMs: 4000 });
  assert.equal(livenessRules({ heartbeatMs: 1000, agentTimeoutMs: 1200 }).probeAfterMs, 1200, "never later than the timeout");
});

test("short silence: kept, nothing probed, whatever an old answer said", () => {
  assert.deepEqual(v(r.probeAfterMs, none), { lost: false, probe: false, starved: false });
  assert.deepEqual(v(500, last("refused")), { lost: false, probe: false, starved: false });
});

test("past probeAfterMs: the first probe is due; none while one runs or one started less than reprobeMs ago", () => {
  assert.deepEqual(v(r.probeAfterMs + 1, none), { lost: false, probe: true, starved: false });
  assert.deepEqual(v(r.probeAfterMs + 1, none, false), { lost: false, probe: false, starved: false }, "no address: nothing to probe");
  assert.deepEqual(v(3000, { inFlight: true }), { lost: false, probe: false, starved: false });
  assert.deepEqual(v(3000, last("answered", r.reprobeMs - 1)), { lost: false, probe: false, starved: false });
  assert.deepEqual(v(3000, last("answered", r.reprobeMs)), { lost: false, probe: true, starved: false });
});

test("refused: lost at once (the process is gone), before the timeout", () => {
  assert.deepEqual(v(r.probeAfterMs + 1, last("refused")), { lost: true, reason: "process gone" });
});

test("no answer (cut link, machine down): lost at once, before the timeout", () => {
  assert.deepEqual(v(r.probeAfterMs + 1, last("no-answer")), { lost: true, reason: "no answer" });
});

test("past the timeout with a recent answer: kept as starved, probed again when due; lost past the starved limit", () => {
  assert.deepEqual(v(r.agentTimeoutMs + 1, last("answered", 500)), { lost: false, probe: false, starved: true });
  assert.deepEqual(v(8000, last("answered", 1500)), { lost: false, probe: true, starved: true });
  assert.deepEqual(v(8000, last("answered", 5000, true)), { lost: false, probe: false, starved: true }, "stale, but the next probe runs");
  assert.deepEqual(v(r.starvedLimitMs + 1, last("answered", 100)), { lost: true, reason: "starved too long" });
});

test("past the timeout with nothing saying it lives: lost as before the probe", () => {
  assert.deepEqual(v(r.agentTimeoutMs + 1, none, false), { lost: true, reason: "silent" }, "no address");
  assert.deepEqual(v(r.agentTimeoutMs + 1, none), { lost: true, reason: "silent" }, "no probe ever started");
  assert.deepEqual(v(r.agentTimeoutMs + 1, last("answered", 2 * r.reprobeMs + r.probeTimeoutMs + 1)), { lost: true, reason: "silent" }, "only a stale answer");
  assert.deepEqual(v(r.agentTimeoutMs + 1, last("answered", 100), false), { lost: true, reason: "silent" }, "the address went away");
  assert.deepEqual(v(r.agentTimeoutMs + 1, { inFlight: true }), { lost: false, probe: false, starved: true }, "the first probe still runs: bounded by its timeout");
});
