import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { connect } from "@nats-io/transport-node";
import { jwtAuthenticator, type NatsConnection } from "@nats-io/nats-core";
import { jetstreamManager } from "@nats-io/jetstream";
import { generatedJob, startAgentProcess, startTestCoordinator, waitUntil } from "../support/farm.ts";
import { expectedGeneratedShas } from "../support/expected-frames.ts";
import { checkOutput } from "../support/output-check.ts";
import { eventually } from "../helpers/eventually.ts";
import { LocalNatsCluster } from "../support/local-nats-cluster.ts";
import { natsClientTls } from "../../shared/tls/nats-tls.ts";
import { POOL_CONSUMER, WORK_STREAM } from "../../shared/protocol/subjects.ts";

test("a three-node NATS cluster: the work stream's leader is killed mid-job and restarted; every frame lands exactly once; a removed agent is shut out of every node", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "ns-cluster-"));
  const cluster = await LocalNatsCluster.create(join(dir, "nats-cluster"), join(dir, "data"));
  let nc: Awaited<ReturnType<typeof connect>> | undefined;
  // t.after hooks run in the order they were added: the coordinator's and the agents' stops come first, this last.
  const cleanup = async (): Promise<void> => {
    await nc?.close();
    await cluster.stopAll();
    rmSync(dir, { recursive: true, force: true });
  };
  await cluster.startAll().catch(async (err: unknown) => {
    await cleanup();
    throw err;
  });
  const coordinator = await startTestCoordinator(t, dir, cluster.coordinatorConfig());
  assert.deepEqual(coordinator.natsUrls, cluster.files.urls, "the coordinator hands agents the cluster's list");

  // A client of our own, as the coordinator's user (a JWT signed by the studio's account), to ask JetStream who leads.
  nc = await connect({
    servers: cluster.files.urls,
    authenticator: jwtAuthenticator(coordinator.trust.natsCoordinator.jwt, new TextEncoder().encode(coordinator.trust.natsCoordinator.seed)),
    tls: natsClientTls(coordinator.trust.ca.certPem),
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
  });
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  const stream = await jsm.streams.info(WORK_STREAM);
  assert.equal(stream.config.num_replicas, 3, "R3 stream on a cluster");
  assert.equal(stream.cluster?.replicas?.length, 2, "a leader and two replicas");
  assert.equal((await jsm.consumers.info(WORK_STREAM, POOL_CONSUMER)).config.num_replicas, 3, "R3 pool consumer");

  await startAgentProcess(t, coordinator.address, "a1", dir);
  await startAgentProcess(t, coordinator.address, "a2", dir);
  t.after(cleanup);
  const [W, H, N] = [320, 180, 60];
  const { jobId } = await coordinator.api.submit(JSON.stringify(generatedJob("cluster-leader", N, W, H, 5)), dir);
  const store = coordinator.store;
  await waitUntil(() => store.chunks.counts(jobId).done >= 2, 90_000, "two chunks done");

  const leader = await cluster.streamLeader(nc);
  const doneBefore = store.chunks.counts(jobId).done;
  const killedAt = Date.now();
  await cluster.kill(leader);
  // The others elect a new leader; the dead node comes back later with its store and catches up.
  const client = nc;
  let elected = -1;
  await eventually(async () => (elected = await cluster.streamLeader(client).catch(() => -1)) >= 0 && elected !== leader, "a new stream leader", 60_000, 250);
  t.diagnostic(`new stream leader n${elected + 1} answered ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill`);
  await waitUntil(() => store.chunks.counts(jobId).done > doneBefore || store.jobs.get(jobId)?.state === "done", 90_000, "a chunk done after the leader died");
  t.diagnostic(`stream leader n${leader + 1} killed; next chunk done ${((Date.now() - killedAt) / 1000).toFixed(1)} s later`);
  await sleep(1000);
  await cluster.start(leader);
  const restartedName = cluster.nodes[leader]?.name;
  await eventually(
    async () => (await jsm.streams.info(WORK_STREAM).catch(() => undefined))?.cluster?.replicas?.some((r) => r.name === restartedName && r.current) === true,
    "the restarted node a current replica again",
    60_000,
    250,
  );

  const job = await coordinator.finisher.waitFor(jobId);
  assert.equal(job.state, "done", job.message ?? "");
  const check = checkOutput(join(dir, "output"), job.outputDir, await expectedGeneratedShas(N, W, H, 3));
  assert.deepEqual([check.missing, check.corrupt, check.unexpected], [[], [], []], "every frame once, none corrupt");
  for (const c of store.chunks.listByJob(jobId)) {
    assert.equal(store.attempts.listByChunk(c.id).filter((x) => x.state === "committed").length, 1, `chunk ${c.id} committed once`);
  }

  // Removing an agent through the coordinator: its user JWT is revoked in the account JWT pushed to the cluster,
  // so every node drops its live connection and refuses it from then on (the restarted node included).
  const a1 = store.agents.list().find((a) => a.name === "a1");
  assert.ok(a1, "agent a1 is known");
  const creds = await coordinator.trust.natsCredentials(a1.id);
  assert.ok(creds.jwt !== "" && creds.seed !== "", "agents of a studio-auth cluster get a user JWT");
  const asAgent = (url: string): Promise<NatsConnection> =>
    connect({ servers: url, authenticator: jwtAuthenticator(creds.jwt, new TextEncoder().encode(creds.seed)), tls: natsClientTls(coordinator.trust.ca.certPem), maxReconnectAttempts: 0 });
  const perNode = await Promise.all(cluster.files.urls.map(asAgent));
  t.after(() => Promise.all(perNode.map((c) => c.close())));
  const removedAt = Date.now();
  await coordinator.enrollment.remove(a1.id);
  for (const [i, c] of perNode.entries()) await eventually(() => c.isClosed(), `a1's connection to node n${i + 1} closed`, 15_000, 100);
  t.diagnostic(`removed agent's connections to all ${perNode.length} nodes closed ${((Date.now() - removedAt) / 1000).toFixed(1)} s after the removal`);
  for (const url of cluster.files.urls) {
    await assert.rejects(asAgent(url).then((c) => c.close()), /authoriz|revoked|authentication/i, `${url} refuses the removed agent`);
  }
  const a2 = store.agents.list().find((a) => a.name === "a2");
  assert.ok(a2);
  const other = await coordinator.trust.natsCredentials(a2.id);
  const stillIn = await connect({ servers: cluster.files.urls, authenticator: jwtAuthenticator(other.jwt, new TextEncoder().encode(other.seed)), tls: natsClientTls(coordinator.trust.ca.certPem), maxReconnectAttempts: 0 });
  await stillIn.close();
});
