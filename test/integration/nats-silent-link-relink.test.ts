// The agent's NATS connection with its own link settings (agent/nats/link-settings.ts), to a real nats-server
// through a loopback proxy: a link cut silently (nothing passes, nothing is closed) makes the connection stale,
// and its reconnect once the link is back calls `relinked`, where the agent dials its gRPC connections again
// (CoordinatorClient.redial, grpc-redial.test.ts). A connection closed outright (a server restart, a reset)
// reconnects without it: those gRPC connections were closed as well and dial again by themselves.
import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { connect } from "@nats-io/transport-node";
import { AGENT_NATS_LINK, NATS_MAX_PINGS_OUT, NATS_PING_MS, watchStaleLinks } from "../../agent/nats/link-settings.ts";
import { startBlackholeProxy } from "../helpers/blackhole-proxy.ts";
import { startCutProxy } from "../helpers/cut-proxy.ts";
import { defer } from "../helpers/defer.ts";
import { eventually } from "../helpers/eventually.ts";
import { startNats } from "../helpers/nats.ts";
import { testLog } from "../helpers/test-log.ts";

/** Longer than the stale check's silence ((NATS_MAX_PINGS_OUT + 1) pings), with a second of margin for a loaded host. */
const CUT_MS = (NATS_MAX_PINGS_OUT + 1) * NATS_PING_MS + 1_000;

test("a NATS link cut silently: the connection is dropped as stale, and its reconnect once the link is back calls relinked once", { timeout: 60_000 }, async (t) => {
  const nats = await startNats(t);
  const proxy = await startBlackholeProxy(t, nats.url);
  const nc = await connect({ servers: proxy.address, ...AGENT_NATS_LINK });
  defer(t, () => nc.close());
  const relinks: number[] = [];
  watchStaleLinks(nc, testLog(), () => relinks.push(performance.now()));

  proxy.cut();
  await sleep(CUT_MS);
  assert.deepEqual(relinks, [], "nothing called while the link is cut");
  const backAt = performance.now();
  proxy.restore();
  await eventually(() => relinks.length > 0, "relinked called after the link came back", 15_000);
  t.diagnostic(`relinked ${(relinks[0]! - backAt).toFixed(0)} ms after the link came back`);
  // Still connected and serving on the new connection, and called once for the one cut.
  await nc.flush();
  await sleep(2 * NATS_PING_MS);
  assert.equal(relinks.length, 1);
});

test("a NATS connection closed outright reconnects without calling relinked", { timeout: 60_000 }, async (t) => {
  const nats = await startNats(t);
  const proxy = await startCutProxy(t, nats.url.replace(/^nats:\/\//, ""));
  const nc = await connect({ servers: proxy.address, ...AGENT_NATS_LINK });
  defer(t, () => nc.close());
  let relinks = 0;
  watchStaleLinks(nc, testLog(), () => relinks++);
  let reconnects = 0;
  void (async () => {
    for await (const s of nc.status()) if (s.type === "reconnect") reconnects++;
  })();

  // The next bytes from the server (a PONG to the agent's ping) cut the connection on both sides.
  proxy.cutAfter(1);
  await eventually(() => reconnects > 0, "reconnected after the cut", 15_000);
  await nc.flush();
  assert.equal(proxy.cuts, 1);
  assert.equal(relinks, 0, "relinked is for a silent link only");
});
