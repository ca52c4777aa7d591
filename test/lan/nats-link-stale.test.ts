import assert from "node:assert/strict";
import { createInterface } from "node:readline";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { findNatsServer } from "../../shared/nats/find-nats-server.ts";
import { Lan, requireRoot, type LanHost } from "./netns.ts";

// Needs root (network namespaces) and nats-server.
//
// What it checks: after the agent's link was cut long enough for the server's TCP to back off, what the server
// sends reaches the agent soon after the link is back, because the agent took its silent connection for stale
// and dialled a new one (agent/nats/link-settings.ts). Kept on the old connection, a message published once
// the link is back waits behind what the server sent into the cut until the server's next retransmit. The
// retransmits double from a base of at least 0.2 s (0.2, 0.6, 1.4, 3.0, 6.2, 12.6 s after the first unanswered
// send at 0.2; 0.21 put the fifth at 6.5 s, just after a 6.5 s cut ended), so a link back at 8 s is served at
// 12.6 s or later, about 5 s late, for any base up to 0.25 s. The bound below (3 s) sits between the two.

const CLIENT = fileURLToPath(new URL("./fixtures/nats-link-client.ts", import.meta.url));
const PUBLISHER = `
const { connect } = require("@nats-io/transport-node");
connect({ servers: process.argv[1] }).then((nc) => {
  setInterval(() => nc.publish("tick", String(Date.now())), 50);
  console.log("publishing");
});
`;
const CUT_MS = 8_000;
const SERVED_WITHIN_MS = 3_000;

interface Seen {
  status?: string;
  sentAt?: number;
  at: number;
}

test("a NATS link silent for 8 s is dropped as stale and dialled again: the server's messages reach the agent soon after the link is back", { timeout: 60_000 }, async (t) => {
  if (!requireRoot(t)) return;
  let natsServer: string;
  try {
    natsServer = findNatsServer();
  } catch {
    return t.skip("nats-server is not installed");
  }
  const lan = await Lan.create({ hosts: 2 });
  t.after(() => lan.cleanup());
  const [serverHost, agentHost] = lan.hosts as [LanHost, LanHost];
  const url = `nats://${serverHost.ip}:4222`; // a namespace of its own: the port is free
  lan.spawn(serverHost, natsServer, ["-a", serverHost.ip, "-p", "4222"]);

  const seen: Seen[] = [];
  const waitFor = async (what: string, ok: (s: Seen) => boolean, withinMs: number): Promise<Seen> => {
    const until = Date.now() + withinMs;
    for (;;) {
      const hit = seen.find(ok);
      if (hit) return hit;
      if (Date.now() > until) throw new Error(`no ${what} within ${withinMs} ms; seen: ${JSON.stringify(seen.filter((s) => s.status))}`);
      await sleep(20);
    }
  };
  let client = lan.spawn(agentHost, process.execPath, ["--import", "tsx", CLIENT, url], { cwd: process.cwd() });
  for (let tries = 0; tries < 20; tries++) {
    // nats-server may not listen yet: the client's first connect fails at once, so start it again.
    const exited = new Promise<number | null>((r) => client.once("exit", r));
    const lines = createInterface({ input: client.stdout! });
    lines.on("line", (l) => l.startsWith("{") && seen.push(JSON.parse(l) as Seen));
    const ready = waitFor("ready", (s) => s.status === undefined && s.sentAt === undefined, 10_000).then(() => true);
    if (await Promise.race([ready, exited.then(() => false)])) break;
    await sleep(250);
    client = lan.spawn(agentHost, process.execPath, ["--import", "tsx", CLIENT, url], { cwd: process.cwd() });
  }
  const publisher = lan.spawn(serverHost, process.execPath, ["-e", PUBLISHER, url], { cwd: process.cwd() });
  publisher.stderr?.resume();
  await waitFor("tick before the cut", (s) => s.sentAt !== undefined, 15_000);

  await lan.linkDown(agentHost);
  const downAt = Date.now();
  await sleep(CUT_MS);
  await lan.linkUp(agentHost);
  const upAt = Date.now();

  const served = await waitFor("tick sent after the link came back", (s) => s.sentAt !== undefined && s.sentAt >= upAt, 15_000);
  const stale = seen.find((s) => s.status === "staleConnection" && s.at > downAt);
  const reconnect = seen.find((s) => s.status === "reconnect" && s.at > downAt);
  const ms = (s: Seen | undefined, from: number): string => (s ? `${s.at - from} ms` : "never");
  t.diagnostic(`stale ${ms(stale, downAt)} into the cut; reconnected ${ms(reconnect, upAt)} and served ${ms(served, upAt)} after the link came back`);
  assert.ok(served.at - upAt < SERVED_WITHIN_MS, `a tick sent after the link came back reached the agent ${served.at - upAt} ms after it (the old connection's backoff holds it about 5 s)`);
  assert.ok(stale !== undefined && stale.at - downAt < CUT_MS, `the silent connection is dropped during the cut (${ms(stale, downAt)} into it)`);
  assert.ok(reconnect !== undefined, "the client dialled a new connection");
});
