import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { startCli } from "../support/cli-process.ts";
import { freePort } from "../support/free-port.ts";
import { readStore } from "../support/read-store.ts";
import { generatedJob, startAgentProcess, tempDir, waitUntil } from "../support/farm.ts";
import { Control } from "../../cli/control-client.ts";
import { adminChannel } from "../../cli/admin-credentials.ts";

/**
 * After a coordinator restart, the chunks whose attempts died with the old process (each agent's running
 * chunk, when the agent keeps no frames: its upload went to the dead process) are the first ones the agents
 * start again, before the fresh chunks the first pass would otherwise publish to the pool at once
 * (coordinator/dispatch/lost-work-first.ts holdsPool). Asserted on order: each agent's first claim after the restart is one of those chunks.
 */
test("after a coordinator restart, each agent's first claim is a chunk whose attempt died with the old process, not a fresh pool chunk", async (t) => {
  const dir = tempDir(t, "ns-restart-lost-first-");
  const address = `127.0.0.1:${await freePort()}`;
  const args = ["coordinator", "--data-dir", join(dir, "data"), "--output-root", join(dir, "output"), "--listen", address];
  let coord = startCli(args);
  t.after(() => coord.stop());
  await coord.waitFor(/coordinator listening/, 60_000);
  // Three agents: each one's race (its own subject against the pool) is a chance for the old order to show.
  // Agents that keep no frames (kept-frames.ts): each upload broken by the kill hands its chunk back, the lost work
  // this test is about (with frames kept, those attempts commit after the restart: restart-kept-upload.test.ts).
  const noKeep = { NIGHTSHIFT_KEEP_UPLOAD_BYTES: "0" };
  const procs: Array<Awaited<ReturnType<typeof startAgentProcess>>> = [];
  for (const n of ["alpha", "beta", "gamma"]) procs.push(await startAgentProcess(t, address, n, dir, noKeep));
  const logs = (): string => `--- coordinator ---\n${coord.output().slice(-4000)}\n${procs.map((p, i) => `--- agent ${i} ---\n${p.output().slice(-3000)}`).join("\n")}`;

  const control = new Control(address, adminChannel({ dataDir: join(dir, "data") }));
  t.after(() => control.close());
  // Frames large enough that a chunk takes a while: every agent is mid-chunk with the pool full at the kill.
  const { jobId } = await control.submit(JSON.stringify(generatedJob("restart-lost-first", 200, 960, 540, 10)), dir);
  const db = readStore(join(dir, "data", "nightshift.db"));
  t.after(() => db.close());
  const running = (): Array<{ chunk_id: string; agent_id: string }> => db.all(`SELECT chunk_id, agent_id FROM attempts WHERE job_id = ? AND state = 'running'`, jobId);
  const poolQueued = (): number => db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM chunks WHERE job_id = ? AND state = 'queued' AND placed_agent_id IS NULL`, jobId)?.n ?? 0;
  await waitUntil(() => new Set(running().map((r) => r.agent_id)).size >= 3 && poolQueued() >= 2, 90_000, "every agent mid-chunk with the pool full", 20);

  coord.kill("SIGKILL");
  await coord.exited;
  const died = new Set(running().map((r) => r.chunk_id));
  const agents = [...new Set(running().map((r) => r.agent_id))];
  const restartAt = Date.now();
  coord = startCli(args);
  await coord.waitFor(/coordinator listening/, 60_000);

  // Each agent's first attempt created since the restart.
  const firstClaims = await waitUntil(() => {
    const firsts = agents.map((agentId) => db.get<{ chunk_id: string }>(`SELECT chunk_id FROM attempts WHERE job_id = ? AND agent_id = ? AND created_at >= ? ORDER BY created_at LIMIT 1`, jobId, agentId, restartAt));
    return firsts.every((f) => f !== undefined) ? firsts.map((f) => f!.chunk_id) : undefined;
  }, 60_000, "a claim by each agent after the restart", 20).catch((e: Error) => {
    throw new Error(`${e.message}\n${logs()}`);
  });
  t.diagnostic(`died with the old process: ${[...died].join(" ")}; first claims after the restart: ${firstClaims.join(" ")}`);
  const fresh = firstClaims.filter((c) => !died.has(c));
  assert.deepEqual(fresh, [], `agents started fresh chunks (${fresh.join(" ")}) before the ${died.size} whose attempts died with the old process\n${logs()}`);
  await coord.stop();
});
