import assert from "node:assert/strict";
import { test } from "node:test";
import { AgentSightings } from "../../coordinator/discovery/agent-sightings.ts";
import { encodeAgentTxt } from "../../shared/discovery/txt-records.ts";
import type { DiscoveredService } from "../../shared/discovery/discovery.ts";
import { silentLogger } from "../../shared/log.ts";
import { openTempStore } from "../helpers/store-fixture.ts";
import { EnrollmentsTable } from "../../coordinator/store/enrollments-table.ts";
import { manualClock } from "../helpers/manual-clock.ts";
import { eventually } from "../helpers/eventually.ts";

function advert(id: string, name: string, referer = "10.0.0.7"): DiscoveredService {
  return {
    name: `nightshift-agent-${id}`,
    type: "nshift-agent",
    port: 7500,
    host: `nightshift-agent-${id}.local`,
    addresses: ["10.0.0.7"],
    referer,
    txt: encodeAgentTxt({ id, name, port: 7500, gpus: [{ name: "RTX 4090", vramMiB: 24564 }] }),
  };
}

function agentRow(id: string, state: "online" | "discovered", now: number) {
  return { id, name: id, version: "1", gpus: [], ramBytes: 1, cpuCount: 1, tags: [], kinds: [], address: "", state, now };
}

test("an unknown agent's advert makes a discovered row; an enrolled agent's advert changes nothing; garbage is ignored", (t) => {
  const { store } = openTempStore(t);
  const clock = manualClock();
  const offline: string[] = [];
  const s = new AgentSightings(store, 1000, { markOffline: (id) => offline.push(id) }, clock.now, silentLogger());
  s.up(advert("agt-new", "gpu box"));
  const row = store.agents.get("agt-new");
  assert.equal(row?.state, "discovered");
  assert.equal(row?.name, "gpu box");
  assert.equal(row?.address, "10.0.0.7:7500");
  assert.deepEqual(row?.gpus, [{ name: "RTX 4090", vramBytes: 24564 * 2 ** 20 }]);

  store.agents.upsert(agentRow("agt-real", "online", clock.now()));
  s.up(advert("agt-real", "impostor"));
  assert.equal(store.agents.get("agt-real")?.name, "agt-real", "an advert never renames an enrolled agent");
  assert.equal(store.agents.get("agt-real")?.state, "online");

  s.up({ ...advert("x", "x"), txt: { role: "agent", v: "1", id: "../etc", port: "1" } });
  assert.equal(store.agents.list().length, 2);
  s.stop();
});

test("a goodbye takes an online agent offline only once its heartbeats have stopped too", async (t) => {
  const { store } = openTempStore(t);
  const clock = manualClock(Date.now());
  const offline: string[] = [];
  const s = new AgentSightings(store, 40, { markOffline: (id) => offline.push(id) }, clock.now, silentLogger());
  t.after(() => s.stop());
  store.agents.upsert(agentRow("agt-live", "online", clock.now()));
  store.agents.upsert(agentRow("agt-gone", "online", clock.now() - 1000));

  // A forged goodbye for a live agent: a heartbeat arrives during the grace period, nothing happens.
  s.down(advert("agt-live", "live"));
  store.agents.touch("agt-live", clock.now() + 10);
  // A real goodbye: heartbeats stopped a while ago.
  s.down(advert("agt-gone", "gone"));
  assert.deepEqual(offline, ["agt-gone"]);
  await new Promise((r) => setTimeout(r, 150));
  assert.deepEqual(offline, ["agt-gone"]);

  // A goodbye right after a heartbeat, and no heartbeat after it: offline after the grace period.
  store.agents.upsert(agentRow("agt-quiet", "online", clock.now()));
  s.down(advert("agt-quiet", "quiet"));
  assert.deepEqual(offline, ["agt-gone"]);
  clock.advance(100);
  await eventually(() => offline.includes("agt-quiet"), "the quiet agent to go offline", 2000);
});

test("discovered-only agents expire after the TTL without an advert; a fresh advert, an approval or enrollment keeps them", (t) => {
  const { store } = openTempStore(t);
  const clock = manualClock(1_000_000);
  const s = new AgentSightings(store, 1000, { markOffline: () => undefined }, clock.now, silentLogger());
  s.up(advert("agt-gone", "stranger"));
  s.up(advert("agt-fresh", "neighbour"));
  s.up(advert("agt-approved", "approved before it asked"));
  new EnrollmentsTable(store.db).approve("agt-approved", "approval", clock.now());
  store.agents.upsert(agentRow("agt-online", "online", clock.now()));
  clock.advance(50_000);
  s.up(advert("agt-fresh", "neighbour")); // advertised again
  clock.advance(20_000);
  assert.deepEqual(s.expireStale(60_000), ["agt-gone"]);
  assert.equal(store.agents.get("agt-gone"), undefined);
  for (const id of ["agt-fresh", "agt-approved", "agt-online"]) assert.ok(store.agents.get(id), `${id} kept`);
  assert.deepEqual(s.expireStale(60_000), [], "nothing more to expire");
});
