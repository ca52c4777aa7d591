import { test } from "node:test";
import assert from "node:assert/strict";
import { chunksWithinBudget, UNKNOWN_AGENT_BUSY_WATTS, type AgentPower } from "../../coordinator/dispatch/power-budget.ts";
import { Dispatcher, type WorkPublisher } from "../../coordinator/dispatch/dispatcher.ts";
import { DEFAULT_FARM_POLICY } from "../../coordinator/dispatch/farm-policy.ts";
import { FarmPowerGate } from "../../coordinator/telemetry/farm-power-gate.ts";
import { TelemetryService } from "../../coordinator/telemetry/telemetry-service.ts";
import type { TelemetrySample } from "../../shared/protocol/telemetry-message.ts";
import type { Heartbeat } from "../../shared/protocol/messages.ts";
import type { WorkMessage } from "../../shared/protocol/messages.ts";
import { settle } from "../helpers/eventually.ts";
import { manualClock } from "../helpers/manual-clock.ts";
import { insertAgent, insertChunks, insertJob, openTempStore } from "../helpers/store-fixture.ts";
import { testLog } from "../helpers/test-log.ts";
import { heartbeat } from "../helpers/heartbeat-fixture.ts";

const idle = (agentId: string, watts: number | null, busyWatts: number | null): AgentPower => ({ agentId, watts, busy: false, available: true, busyWatts });
const busy = (agentId: string, watts: number | null, busyWatts: number | null): AgentPower => ({ agentId, watts, busy: true, available: false, busyWatts });

test("starts chunks while measured draw plus each start's increase stays within the budget", () => {
  // Farm: A busy at 300 W, B idle at 50 W (busy 350 W), C idle at 40 W (busy 200 W). Draw 390 W.
  const agents = [busy("A", 300, 320), idle("B", 50, 350), idle("C", 40, 200)];
  // Budget 1000: B adds 300 (690), C adds 160 (850), a third chunk waits for a busy agent (+0).
  assert.deepEqual(chunksWithinBudget(1000, agents, 0, 3), { allowed: 3, farmWatts: 390, projectedWatts: 850, budgetWatts: 1000 });
  // Budget 700: only the worst-case first start (B, +300) fits.
  assert.equal(chunksWithinBudget(700, agents, 0, 3).allowed, 1);
  // Budget 600: not even that.
  assert.equal(chunksWithinBudget(600, agents, 0, 3).allowed, 0);
});

test("chunks already queued count as started on the agents that would add the most", () => {
  const agents = [idle("B", 50, 350), idle("C", 40, 200)];
  // One queued chunk is assumed to land on B (+300): 90 + 300 = 390; the next on C (+160) = 550.
  assert.equal(chunksWithinBudget(500, agents, 1, 2).allowed, 0);
  assert.equal(chunksWithinBudget(550, agents, 1, 2).allowed, 2);
});

test("a farm already over budget starts nothing, even work that would only wait", () => {
  assert.equal(chunksWithinBudget(500, [busy("A", 520, 520)], 0, 4).allowed, 0);
  assert.equal(chunksWithinBudget(600, [busy("A", 520, 520)], 0, 4).allowed, 4, "under budget, queued work only waits for A");
});

test("unknown figures: a busy agent without telemetry counts at its busy draw; unknown busy draw falls back", () => {
  // A busy, no reading: counted at its expected 400 W.
  assert.equal(chunksWithinBudget(450, [busy("A", null, 400), idle("B", 0, 100)], 0, 1).allowed, 0);
  // B has no history and no power limit: assumed to draw as much as the most known agent (400 W).
  assert.equal(chunksWithinBudget(650, [busy("A", 300, 400), idle("B", 0, null)], 0, 1).allowed, 0);
  assert.equal(chunksWithinBudget(650, [busy("A", 300, 400), idle("B", 0, 300)], 0, 1).allowed, 1);
  // Nothing known at all: the fixed fallback.
  assert.equal(chunksWithinBudget(UNKNOWN_AGENT_BUSY_WATTS, [idle("B", 0, null)], 0, 1).allowed, 1);
  assert.equal(chunksWithinBudget(UNKNOWN_AGENT_BUSY_WATTS - 1, [idle("B", 0, null)], 0, 1).allowed, 0);
  assert.throws(() => chunksWithinBudget(0, [], 0, 1), RangeError);
});

class Recording implements WorkPublisher {
  readonly published: WorkMessage[] = [];
  async publish(msg: WorkMessage): Promise<void> {
    this.published.push(msg);
  }
}

function sample(agentId: string, seq: number, watts: number, busyNow: boolean, tMs: number): TelemetrySample {
  return {
    agentId, session: "s1", seq, tMs, source: "nvml", watts, energyJoules: 0, energyTotalJoules: 0, energyMethod: "counter",
    vramBytes: 0, ramBytes: 1, utilisationPercent: null, temperatureC: null, powerLimitWatts: 450, busy: busyNow, idleWatts: null,
  };
}

test("the dispatcher holds chunks back while the farm's measured draw leaves no room, and resumes when it drops", async (t) => {
  const { store } = openTempStore(t);
  const clock = manualClock(Date.UTC(2025, 0, 1));
  const log = testLog();
  insertAgent(store, { id: "agt_hot" });
  insertAgent(store, { id: "agt_cool" });
  const job = insertJob(store, { id: "job_p" });
  insertChunks(store, job.id, [[0, 1], [2, 3], [4, 5]]);
  const telemetry = new TelemetryService(store, clock.now, log);
  t.after(() => telemetry.stop());
  const live = new Map<string, Heartbeat>();
  const hb = (agentId: string, status: string): void => {
    live.set(agentId, heartbeat(agentId, { status, sentAtMs: clock.now() }));
  };
  // agt_hot is rendering something at 420 W; agt_cool idles at 30 W and its limit is 450 W.
  hb("agt_hot", "busy");
  hb("agt_cool", "idle");
  telemetry.ingest("agt_hot", sample("agt_hot", 1, 420, true, clock.now()));
  telemetry.ingest("agt_cool", sample("agt_cool", 1, 30, false, clock.now()));
  const gate = new FarmPowerGate(800, store, live, telemetry, clock.now, log);
  const publisher = new Recording();
  // No gap between passes: this test is about the power gate, not about coalescing kicks (dispatcher.test.ts).
  const dispatcher = new Dispatcher(store, publisher, { ...DEFAULT_FARM_POLICY, queueDepthPerAgent: 5 }, clock.now, log, 0);
  dispatcher.useScheduling({ live: () => live });
  dispatcher.limitStarts((queued, wanted) => gate.allowed(queued, wanted));
  t.after(() => dispatcher.stop());

  dispatcher.kick();
  await settle();
  assert.equal(publisher.published.length, 0, "420 W + 30 W + (450 - 30) W would be 870 W > 800 W");

  clock.advance(1000);
  hb("agt_hot", "idle");
  telemetry.ingest("agt_hot", sample("agt_hot", 2, 60, false, clock.now()));
  dispatcher.kick();
  await settle();
  // Now 60 + 30 W. Too few busy readings yet, so both are expected at their 450 W power limit:
  // the first start adds 450 - 30 = 420 W (510 W); the second would add 390 W (900 W) and does not fit.
  assert.equal(publisher.published.length, 1);
  assert.equal(store.chunks.countInState("queued"), 1);
});
