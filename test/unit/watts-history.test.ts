/**
 * The dashboard's watts chart is fed by the telemetry service as samples
 * arrive (no timer): one point per agent per second at most, none for a
 * sample without watts or one the service refused, none after unsubscribing.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { WattsHistory } from "../../coordinator/dashboard/watts-history.ts";
import { TelemetryService } from "../../coordinator/telemetry/telemetry-service.ts";
import type { TelemetrySample } from "../../shared/protocol/telemetry-message.ts";
import { manualClock } from "../helpers/manual-clock.ts";
import { openTempStore } from "../helpers/store-fixture.ts";
import { testLog } from "../helpers/test-log.ts";

const T0 = Date.UTC(2025, 0, 1);

function sample(agentId: string, seq: number, watts: number | null): TelemetrySample {
  return {
    agentId, session: "s1", seq, tMs: T0 + seq * 1000, source: "nvml", watts, energyJoules: 0, energyTotalJoules: seq, energyMethod: "counter",
    vramBytes: 100, ramBytes: 1000, utilisationPercent: 50, temperatureC: 60, powerLimitWatts: 300, busy: true, idleWatts: null,
  };
}

test("each accepted sample with watts becomes a point, at most one a second per agent, until unsubscribed", (t) => {
  const { store } = openTempStore(t);
  const clock = manualClock(T0);
  const telemetry = new TelemetryService(store, clock.now, testLog());
  const watts = new WattsHistory(3);
  const stop = telemetry.onSample((agentId, latest) => watts.record(agentId, latest));

  telemetry.ingest("agt_a", sample("agt_a", 0, 100.04));
  clock.advance(400);
  telemetry.ingest("agt_a", sample("agt_a", 1, 150)); // 400 ms after the last point: not a point
  telemetry.ingest("agt_b", sample("agt_b", 0, 50)); // another agent's own series
  clock.advance(600);
  telemetry.ingest("agt_a", sample("agt_a", 2, null)); // no watts: not a point
  telemetry.ingest("agt_x", sample("agt_a", 3, 999)); // refused by the service (another agent's subject)
  clock.advance(500);
  telemetry.ingest("agt_a", sample("agt_a", 4, 200));
  assert.deepEqual(watts.series("agt_a"), [[T0, 100], [T0 + 1500, 200]]);
  assert.deepEqual(watts.series("agt_b"), [[T0 + 400, 50]]);

  for (let seq = 5; seq < 8; seq++) {
    clock.advance(1000);
    telemetry.ingest("agt_a", sample("agt_a", seq, seq));
  }
  assert.deepEqual(watts.series("agt_a").map(([, w]) => w), [5, 6, 7], "bounded to the newest maxPoints");

  stop();
  clock.advance(1000);
  telemetry.ingest("agt_a", sample("agt_a", 8, 8));
  assert.deepEqual(watts.series("agt_a").map(([, w]) => w), [5, 6, 7], "nothing recorded after unsubscribing");
});
