import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import YAML from "yaml";
import { findNatsServer } from "../../shared/nats/find-nats-server.ts";
import { startCli, type CliProcess } from "../support/cli-process.ts";
import { readStore } from "../support/read-store.ts";
import { generatedJob, tempDir, waitUntil } from "../support/farm.ts";
import { Lan, requireRoot, type LanHost } from "./netns.ts";

// Needs root: a studio built from network namespaces on one bridge (test/lan/netns.ts):
// host1 coordinator, host2-4 agents, host5 a rogue laptop. Every nightshift process is
// the real CLI; mDNS runs only on the namespaces' own interfaces (--mdns-interface).

const ROGUE = fileURLToPath(new URL("./fixtures/rogue-host.ts", import.meta.url));
const GRPC_PORT = 7400;

interface LogLine {
  msg?: string;
  agentId?: string;
  [key: string]: unknown;
}

function logLines(p: CliProcess): LogLine[] {
  const out: LogLine[] = [];
  for (const line of p.output().split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      out.push(JSON.parse(line) as LogLine);
    } catch {
      // a line cut in the middle of a write
    }
  }
  return out;
}

/** A long-running CLI process in a host's namespace, stopped (by pid) after the test. */
function daemon(t: TestContext, host: LanHost, args: string[]): CliProcess {
  const p = startCli(args, { netns: host.ns });
  t.after(() => p.stop(3000));
  return p;
}

/** One CLI command in a host's namespace, to completion. */
async function once(host: LanHost, args: string[], timeoutMs = 60_000): Promise<{ code: number | null; out: string }> {
  const p = startCli(args, { netns: host.ns, env: { NIGHTSHIFT_LOG_LEVEL: "silent" } });
  const timer = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
  const { code } = await p.exited;
  clearTimeout(timer);
  return { code, out: p.output() };
}

function json<T>(text: string): T {
  return JSON.parse(text.slice(Math.min(...["{", "["].map((c) => text.indexOf(c)).filter((i) => i >= 0)))) as T;
}

test("studio LAN: agents find the coordinator by mDNS, enroll with tokens and share a job; a cut link is survived; the rogue gets nothing", { timeout: 240_000 }, async (t) => {
  if (!requireRoot(t)) return;
  try {
    findNatsServer();
  } catch {
    return t.skip("nats-server is not installed");
  }
  const started = Date.now();
  const lan = await Lan.create({ hosts: 5 });
  t.after(() => lan.cleanup());
  const [coordHost, ...rest] = lan.hosts as [LanHost, LanHost, LanHost, LanHost, LanHost];
  const agentHosts = rest.slice(0, 3) as [LanHost, LanHost, LanHost];
  const rogueHost = rest[3] as LanHost;
  const dir = tempDir(t, "ns-lan-studio-");
  const dataDir = join(dir, "coordinator");
  const address = `${coordHost.ip}:${GRPC_PORT}`;

  // The coordinator advertises on host1's interface only.
  const coordinator = daemon(t, coordHost, [
    "coordinator", "--data-dir", dataDir, "--output-root", join(dir, "output"), "--listen", address, "--mdns-interface", coordHost.ip,
  ]);
  const ca = (await coordinator.waitFor(/studio CA ([0-9a-f]{64})/, 60_000))[1] as string;
  const endpoint = JSON.parse(readFileSync(join(dataDir, "coordinator.json"), "utf8")) as { enroll: string; nats: string };
  const natsPort = new URL(endpoint.nats).port;

  // The rogue laptop: advertises as an agent and as a coordinator (copying the real CA fingerprint), and attacks.
  const rogue = lan.spawn(rogueHost, process.execPath, [
    "--import", "tsx", ROGUE, rogueHost.ip, join(dir, "rogue"), coordHost.ip, String(GRPC_PORT), endpoint.enroll.split(":")[1] as string, natsPort, ca,
  ]);
  let rogueOut = "";
  rogue.stdout?.setEncoding("utf8").on("data", (d: string) => (rogueOut += d));
  rogue.stderr?.setEncoding("utf8").on("data", (d: string) => (rogueOut += d));
  const rogueEvents = (): Array<Record<string, unknown>> =>
    rogueOut.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);

  const token = async (...extra: string[]) => {
    const r = await once(coordHost, ["token", "create", "--data-dir", dataDir, "--json", ...extra]);
    assert.equal(r.code, 0, r.out);
    const parsed = json<{ token: string; caFingerprint: string }>(r.out);
    assert.equal(parsed.caFingerprint, ca);
    return parsed.token;
  };
  const multi = await token("--multi-use", "--ttl", "10m");
  const single = await token();
  const short = await token("--ttl", "1s");
  await waitUntil(() => rogueEvents().some((e) => e["event"] === "advertising"), 30_000, "the rogue to advertise");

  // Three agents, no --coordinator: mDNS on their own interface finds it. Two pin the CA from the
  // TXT record (the rogue copies the fingerprint but cannot prove it), one pins it from the token's output.
  const agents = agentHosts.map((host, i) => {
    // Each agent has a tag of its own: the jobs that must run on one agent name it (which agent takes a chunk of an
    // open job is a matter of timing).
    const args = ["agent", "--mdns-interface", host.ip, "--name", `gpu-${i + 1}`, "--tag", `lan-${i + 1}`, "--data-dir", join(dir, `agent-${i + 1}`), "--energy-source", "estimate"];
    args.push(...(i < 2 ? ["--join-token", multi] : ["--join-token", single, "--ca-fingerprint", ca]));
    return daemon(t, host, args);
  });
  const ids: string[] = [];
  for (const a of agents) {
    const m = await a.waitFor(/agent (\S+) running, coordinator (\S+)/, 90_000);
    assert.equal(m[2], address, "each agent reached the real coordinator");
    ids.push(m[1] as string);
  }

  // Wrong, used and expired tokens, from the rogue host through mDNS: exit 2 and a clear message.
  await sleep(Math.max(0, 1100));
  const tryToken = (tok: string, name: string) =>
    once(rogueHost, ["agent", "--mdns-interface", rogueHost.ip, "--join-token", tok, "--ca-fingerprint", ca, "--data-dir", join(dir, name), "--energy-source", "estimate"]);
  const [wrong, used, expired, unpinned] = await Promise.all([
    tryToken(`nsj_${"a".repeat(26)}`, "try-wrong"),
    tryToken(single, "try-used"),
    tryToken(short, "try-expired"),
    // A pin nobody on this LAN can prove: found coordinators are named, none is followed.
    once(rogueHost, ["agent", "--mdns-interface", rogueHost.ip, "--join-token", multi, "--ca-fingerprint", "ab".repeat(32), "--discovery-timeout", "3", "--data-dir", join(dir, "try-pin")]),
  ]);
  assert.equal(unpinned.code, 1, unpinned.out);
  assert.match(unpinned.out, /found \d coordinator\(s\) by mDNS on interface .*, none with the studio CA abababababababab/);
  assert.equal(wrong.code, 2, wrong.out);
  assert.match(wrong.out, /--join-token refused: join token not recognised by this coordinator/);
  assert.equal(used.code, 2, used.out);
  assert.match(used.out, /--join-token refused: join token already used/);
  assert.equal(expired.code, 2, expired.out);
  assert.match(expired.out, /--join-token refused: join token expired at/);

  // What the coordinator sees: three agents online, the rogue discovered (and pending: it asked), nothing more.
  await waitUntil(() => rogueEvents().some((e) => e["event"] === "attacks-done"), 60_000, "the rogue's attacks");
  const listAgents = async () => {
    const r = await once(coordHost, ["agents", "--json", "--data-dir", dataDir]);
    assert.equal(r.code, 0, r.out);
    return json<Array<{ id: string; name: string; state: string; gpus: Array<{ name: string; vramBytes: number }>; lastSeen: string }>>(r.out);
  };
  const rogueAgentId = rogueEvents().find((e) => e["event"] === "attacks-done")?.["agentId"] as string;
  await waitUntil(async () => (await listAgents()).some((a) => a.id === "rogue-laptop"), 30_000, "the rogue's advert to be seen");
  const seen = await listAgents();
  for (const id of ids) assert.equal(seen.find((a) => a.id === id)?.state, "online", `agent ${id} online`);
  assert.deepEqual(seen.find((a) => a.id === "rogue-laptop"), {
    ...seen.find((a) => a.id === "rogue-laptop"),
    state: "discovered",
    gpus: [{ name: "RTX 9090", vramBytes: 98304 * 2 ** 20 }],
  });
  assert.equal(seen.find((a) => a.id === rogueAgentId)?.state, "pending");
  for (const a of seen) assert.ok(!Number.isNaN(Date.parse(a.lastSeen)));
  const coordLog = () => logLines(coordinator);
  // An agent advertises once it runs; the coordinator hears it when the advert comes, not by a set time.
  for (const id of ids) {
    await waitUntil(() => coordLog().some((l) => (l.msg === "agent discovered" || l.msg === "agent advertised") && l.agentId === id), 30_000, `the coordinator to see ${id}'s mDNS advert`, 100);
  }
  const attacks = rogueEvents().filter((e) => e["event"] === "attack");
  assert.deepEqual(attacks.map((a) => a["what"]), [
    "nats-anonymous", "nats-guessed-user", "nats-coordinator-user", "grpc-join-own-ca", "grpc-control-own-ca", "enroll-without-token", "enroll-guessed-token",
  ]);
  for (const a of attacks.filter((x) => x["what"] !== "enroll-without-token")) assert.equal(a["ok"], false, `${String(a["what"])} must fail: ${JSON.stringify(a)}`);
  assert.deepEqual(attacks.find((a) => a["what"] === "enroll-without-token")?.["result"], { status: "pending", agentId: rogueAgentId, certBytes: 0 });
  // NATS now listens with TLS from the studio CA: the rogue's NATS attempts fail at the handshake (asserted just
  // above), before nats-server's authorization, so there is no "nats refused a client" line to expect here.

  // Work for each of the three agents. (One open job split between the three was a race: which agents take its
  // chunks is timing, and on a loaded machine two agents could take them all.) A job per agent, by its tag.
  const submit = async (name: string, frames: number, w: number, h: number, size: number, tags: string[] = []) => {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, YAML.stringify({ ...generatedJob(name, frames, w, h, size), ...(tags.length > 0 ? { constraints: { tags } } : {}) }));
    const r = await once(coordHost, ["submit", file, "--data-dir", dataDir, "--json"]);
    assert.equal(r.code, 0, r.out);
    return json<{ jobId: string }>(r.out).jobId;
  };
  const db = readStore(join(dataDir, "nightshift.db"));
  t.after(() => db.close());
  const jobState = (jobId: string) => db.get<{ state: string }>(`SELECT state FROM jobs WHERE id = ?`, jobId)?.state;
  const perAgent: string[] = [];
  for (let i = 0; i < ids.length; i++) perAgent.push(await submit(`together-${i + 1}`, 16, 160, 90, 4, [`lan-${i + 1}`]));
  for (const [i, jobId] of perAgent.entries()) {
    await waitUntil(() => jobState(jobId) === "done" && jobState(jobId), 90_000, `job together-${i + 1} to finish`, 200);
    const byAgent = db.all<{ agent_id: string; n: number }>(`SELECT agent_id, COUNT(*) AS n FROM frames WHERE job_id = ? GROUP BY agent_id`, jobId);
    assert.deepEqual(byAgent, [{ agent_id: ids[i], n: 16 }], `together-${i + 1}: every frame by gpu-${i + 1}`);
  }

  // Unplug an agent while it renders: offline within a bounded time, its chunk re-run elsewhere. The agent unplugged
  // is the first to claim a chunk of the job (agent 3 before: it could see the job done without taking a chunk).
  const job2 = await submit("partition", 40, 800, 450, 8);
  const claimed = (l: LogLine): boolean => (l.msg === "chunk claimed" || l.msg === "next chunk claimed") && ids.includes(String(l.agentId)) && String(l["chunkId"]).startsWith(job2);
  const claimedByVictim = await waitUntil(() => coordLog().find(claimed), 60_000, "an agent to claim a chunk of the job", 20);
  const victim = ids.indexOf(String(claimedByVictim.agentId));
  const victimId = ids[victim] as string;
  const victimHost = agentHosts[victim] as LanHost;
  const victimCert = readFileSync(join(dir, `agent-${victim + 1}`, "agent.crt"), "utf8");
  await lan.linkDown(victimHost);
  const cutAt = Date.now();
  // Meanwhile, on the unplugged host, a new agent cannot find any coordinator and says why.
  const lonely = once(victimHost, ["agent", "--mdns-interface", victimHost.ip, "--discovery-timeout", "2", "--join-token", multi, "--data-dir", join(dir, "lonely")]);
  await waitUntil(() => db.get<{ state: string }>(`SELECT state FROM agents WHERE id = ?`, victimId)?.state === "offline", 20_000, `gpu-${victim + 1} to be offline`, 100);
  const offlineAfter = (Date.now() - cutAt) / 1000;
  const alone = await lonely;
  assert.equal(alone.code, 1, alone.out);
  assert.match(alone.out, new RegExp(`no nightshift coordinator answered mDNS within 2 s on interface ${victimHost.ip.replaceAll(".", "\\.")}`));
  await waitUntil(() => jobState(job2) === "done" && jobState(job2), 120_000, `job 2 to finish without gpu-${victim + 1}`, 200);
  const chunkId = String(claimedByVictim["chunkId"]);
  const attempts = db.all<{ agent_id: string; state: string }>(`SELECT agent_id, state FROM attempts WHERE chunk_id = ? ORDER BY created_at`, chunkId);
  assert.deepEqual(attempts[0], { agent_id: victimId, state: "lost" }, JSON.stringify(attempts));
  const rerun = attempts.find((a) => a.state === "committed");
  assert.ok(rerun && rerun.agent_id !== victimId, `chunk ${chunkId} re-run elsewhere: ${JSON.stringify(attempts)}`);
  assert.equal(db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM frames WHERE job_id = ?`, job2)?.n, 40);

  // Plug it back in: it rejoins with the credentials it has, no new enrollment, and takes work again.
  await lan.linkUp(victimHost);
  const upAt = Date.now();
  await waitUntil(() => db.get<{ state: string }>(`SELECT state FROM agents WHERE id = ?`, victimId)?.state === "online", 60_000, `gpu-${victim + 1} back online`, 200);
  const rejoinAfter = (Date.now() - upAt) / 1000;
  assert.equal(agents[victim]?.child.exitCode, null, "the agent process never stopped");
  assert.equal(readFileSync(join(dir, `agent-${victim + 1}`, "agent.crt"), "utf8"), victimCert, "same certificate: not re-enrolled");
  assert.equal(coordLog().filter((l) => l.msg === "agent enrolled" && l.agentId === victimId).length, 1);

  // Another agent (agent 1, or agent 2 when agent 1 was the one unplugged) restarts without a token: stored
  // credentials, the real coordinator, not the rogue's advert.
  const r = victim === 0 ? 1 : 0;
  const restartHost = agentHosts[r] as LanHost;
  await agents[r]?.stop(5000);
  const again = daemon(t, restartHost, ["agent", "--mdns-interface", restartHost.ip, "--name", `gpu-${r + 1}`, "--tag", `lan-${r + 1}`, "--data-dir", join(dir, `agent-${r + 1}`), "--energy-source", "estimate"]);
  const back = await again.waitFor(/agent (\S+) running, coordinator (\S+)/, 90_000);
  assert.deepEqual([back[1], back[2]], [ids[r], address]);
  assert.equal(coordLog().filter((l) => l.msg === "agent enrolled" && l.agentId === ids[r]).length, 1);

  // The rejoined agent renders again: a job only it may run (by its tag) finishes, every frame by it.
  const job3 = await submit("after", 36, 160, 90, 4, [`lan-${victim + 1}`]);
  await waitUntil(() => jobState(job3) === "done" && jobState(job3), 90_000, "job 3 to finish", 200);
  const job3Agents = db.all<{ agent_id: string }>(`SELECT DISTINCT agent_id FROM frames WHERE job_id = ?`, job3).map((r) => r.agent_id);
  assert.deepEqual(job3Agents, [victimId], "the rejoined agent renders again");

  // The rogue: no attempt ever, no client certificate or byte of gRPC sent to its fake coordinator.
  const rogueAttempts = db.all(`SELECT id FROM attempts WHERE agent_id IN (?, ?)`, "rogue-laptop", rogueAgentId);
  assert.deepEqual(rogueAttempts, []);
  assert.deepEqual(rogueEvents().filter((e) => e["event"] === "data" || e["clientCert"] === true), [], "no agent followed the rogue coordinator");
  const probes = rogueEvents().filter((e) => e["event"] === "tls-secure" || e["event"] === "tls-failed").length;
  t.diagnostic(
    `gpu-${victim + 1} unplugged: offline ${offlineAfter.toFixed(1)} s after its link was cut, online again ${rejoinAfter.toFixed(1)} s after it came back; ` +
      `${probes} TLS probe(s) of the rogue coordinator, none sent a certificate or data; whole test ${((Date.now() - started) / 1000).toFixed(0)} s`,
  );
});
