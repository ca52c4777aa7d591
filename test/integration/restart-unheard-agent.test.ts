import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { restartableCoordinator } from "../support/restartable-coordinator.ts";
import { readStore } from "../support/read-store.ts";
import { generatedJob, startAgentProcess, tempDir, waitUntil } from "../support/farm.ts";
import { Control } from "../../cli/control-client.ts";
import { adminChannel } from "../../cli/admin-credentials.ts";

/**
 * After a coordinator restart the pool is held until the attempts running at the restart are named again by
 * their agents or ended (coordinator/dispatch/lost-work-first.ts holdsPool). An agent killed while the
 * coordinator was down (frozen here) is never heard by the new process: it is waited for only while the agents
 * are being heard, and the pool goes out once the others are, not when the hold's bound (3 heartbeat periods)
 * runs out. Real coordinator process (SIGKILLed and started again), real agents, one stopped during the outage.
 */
test("after a coordinator restart, an agent silent since the outage does not hold the pool to the bound", async (t) => {
  const dir = tempDir(t, "ns-restart-unheard-");
  const coord = await restartableCoordinator(t, dir);
  const procs = [await startAgentProcess(t, coord.address, "alpha", dir), await startAgentProcess(t, coord.address, "beta", dir)];
  const logs = (): string => coord.logs(procs);

  const control = new Control(coord.address, adminChannel({ dataDir: join(dir, "data") }));
  t.after(() => control.close());
  const { jobId } = await control.submit(JSON.stringify(generatedJob("restart-unheard", 200, 960, 540, 10)), dir);
  const db = readStore(join(dir, "data", "nightshift.db"));
  t.after(() => db.close());
  const runningAgents = (): Set<string> => new Set(db.all<{ agent_id: string }>(`SELECT agent_id FROM attempts WHERE job_id = ? AND state = 'running'`, jobId).map((r) => r.agent_id));
  await waitUntil(() => runningAgents().size >= 2, 90_000, "both agents mid-chunk", 20);

  await coord.kill();
  // Beta freezes while the coordinator is down (as a host cut off would look: silent, its health port still
  // accepting, so it is not judged lost within the hold); it is let go once the pool is released.
  const beta = procs[1]!;
  beta.kill("SIGSTOP");
  t.after(() => beta.kill("SIGCONT"));
  assert.equal(runningAgents().size, 2, "each agent's attempt was running at the restart");
  const restartAt = Date.now();
  await coord.restart();

  const released = await waitUntil(() => {
    for (const line of coord.now.output().split("\n")) {
      if (!line.includes("pool released after the restart's lost work")) continue;
      return JSON.parse(line) as { heldMs: number; byBound?: boolean; notHeard?: number };
    }
    return undefined;
  }, 30_000, "the pool released after the restart", 50).catch((e: Error) => {
    throw new Error(`${e.message}\n${logs()}`);
  });
  beta.kill("SIGCONT");
  t.diagnostic(`pool released after ${released.heldMs} ms (byBound ${released.byBound}, attempts of agents not heard: ${released.notHeard})`);
  assert.equal(released.notHeard, 1, `beta's attempt was still running, its agent never heard\n${logs()}`);
  assert.equal(released.byBound, false, `the pool was held to the bound for an agent that was never heard\n${logs()}`);
  // And the farm goes on: alpha claims again after the restart.
  await waitUntil(() => (db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM attempts a JOIN agents g ON g.id = a.agent_id WHERE a.job_id = ? AND g.name = 'alpha' AND a.state IN ('running', 'committed') AND a.created_at >= ?`, jobId, restartAt)?.n ?? 0) > 0, 60_000, "alpha to claim after the restart", 50);
  await coord.now.stop();
});
