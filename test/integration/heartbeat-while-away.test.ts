// The agent's heartbeat publisher on its own NATS link settings, to a real nats-server through a loopback proxy
// that cuts the link silently: after the connection is dropped as stale, the heartbeats due while the agent is
// disconnected are not published (nats.js would buffer them and send them on the next connection, naming no
// connection: measured without the rule, 17 such heartbeats heard after the link came back); every heartbeat the
// coordinator hears after the link is back names the new connection.
import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { connect } from "@nats-io/transport-node";
import { HeartbeatPublisher } from "../../agent/nats/heartbeat-publisher.ts";
import { AGENT_NATS_LINK, NATS_MAX_PINGS_OUT, NATS_PING_MS, natsConnectionName } from "../../agent/nats/link-settings.ts";
import { startBlackholeProxy } from "../helpers/blackhole-proxy.ts";
import { defer } from "../helpers/defer.ts";
import { eventually } from "../helpers/eventually.ts";
import { startNats } from "../helpers/nats.ts";

const SUBJECT = "test.hb.agt_away";
/** A heartbeat every 100 ms: a cut of CUT_MS has several due after the connection is dropped as stale. */
const PERIOD_MS = 100;
const CUT_MS = (NATS_MAX_PINGS_OUT + 1) * NATS_PING_MS + 1_500;

test("heartbeats due while the agent is disconnected are not sent later: after the link is back, each one heard names the new connection", { timeout: 60_000 }, async (t) => {
  const nats = await startNats(t);
  const heard: Array<{ natsConnection?: string; sentAtMs: number }> = [];
  const coordinator = await connect({ servers: nats.url });
  defer(t, () => coordinator.close());
  const sub = coordinator.subscribe(SUBJECT, { callback: (_err, m) => void heard.push(m.json()) });
  await coordinator.flush();

  const proxy = await startBlackholeProxy(t, nats.url);
  const nc = await connect({ servers: proxy.address, ...AGENT_NATS_LINK });
  defer(t, () => nc.close());
  let disconnects = 0;
  void (async () => {
    for await (const s of nc.status()) if (s.type === "disconnect") disconnects++;
  })();
  const hb = new HeartbeatPublisher(nc, SUBJECT, PERIOD_MS, () => ({ agentId: "agt_away", name: "away", status: "idle", attemptId: null, otherAttemptIds: [], note: "", loadedModels: [], downKinds: [], cachedAssets: [], progress: null, natsConnection: natsConnectionName(nc) }));
  defer(t, () => hb.stop());
  hb.start();
  const before = natsConnectionName(nc);
  await eventually(() => heard.length >= 2, "heartbeats heard before the cut");

  proxy.cut();
  await sleep(CUT_MS);
  assert.ok(disconnects > 0, "the connection was dropped as stale during the cut");
  const restoredAt = Date.now();
  const heardBefore = heard.length;
  proxy.restore();
  await eventually(() => heard.length >= heardBefore + 3, "heartbeats heard again after the link is back", 15_000);
  sub.unsubscribe();

  const after = natsConnectionName(nc);
  assert.notEqual(after, before, "a new connection");
  const late = heard.slice(heardBefore);
  const named = late.map((h) => (h.natsConnection === after ? "new" : h.natsConnection === before ? "old" : String(h.natsConnection)));
  assert.deepEqual([...new Set(named)], ["new"], `every heartbeat heard after the cut names the new connection (${named.join(", ")})`);
  assert.ok(
    late.every((h) => h.sentAtMs >= restoredAt - 50),
    `none was made during the cut: sent ${late.map((h) => h.sentAtMs - restoredAt).join(", ")} ms from the link's return`,
  );
});
