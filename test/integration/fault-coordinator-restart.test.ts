import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { startCli } from "../support/cli-process.ts";
import { freePort } from "../support/free-port.ts";
import { readStore } from "../support/read-store.ts";
import { generatedJob, startAgentProcess, tempDir, waitUntil } from "../support/farm.ts";
import { assertGeneratedOutput } from "../support/assert-generated-job.ts";
import { Control } from "../../cli/control-client.ts";
import { adminChannel } from "../../cli/admin-credentials.ts";

interface AttemptRow {
  id: string;
  chunk_id: string;
  state: string;
  created_at: number;
}

test("the coordinator killed with SIGKILL mid-job and started again: the job resumes, finished chunks are not rendered again", async (t) => {
  const dir = tempDir(t, "ns-fault-coord-");
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const args = ["coordinator", "--data-dir", join(dir, "data"), "--output-root", join(dir, "output"), "--listen", address];
  let coord = startCli(args);
  t.after(() => coord.stop());
  await coord.waitFor(/coordinator listening/, 60_000);
  const agent = await startAgentProcess(t, address, "worker", dir);

  const [W, H, N] = [640, 360, 96];
  const control = new Control(address, adminChannel({ dataDir: join(dir, "data") }));
  t.after(() => control.close());
  const { jobId } = await control.submit(JSON.stringify(generatedJob("restart", N, W, H, 16)), dir);
  const dbPath = join(dir, "data", "nightshift.db");
  const db = readStore(dbPath);
  t.after(() => db.close());
  // Let two chunks finish, then kill the coordinator (its nats-server child is orphaned, as in a real crash).
  await waitUntil(() => (db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM chunks WHERE job_id = ? AND state = 'done'`, jobId)?.n ?? 0) >= 2, 90_000, "two chunks done");
  coord.kill("SIGKILL");
  await coord.exited;
  const doneBefore = db.all<{ id: string }>(`SELECT id FROM chunks WHERE job_id = ? AND state = 'done'`, jobId).map((r) => r.id);
  const killedAt = Date.now();

  coord = startCli(args);
  await coord.waitFor(/coordinator listening/, 60_000);
  const restartSeconds = (Date.now() - killedAt) / 1000;
  const final = await waitUntil(() => {
    const row = db.get<{ state: string; output_dir: string; message: string | null }>(`SELECT state, output_dir, message FROM jobs WHERE id = ?`, jobId);
    return row && ["done", "failed", "cancelled"].includes(row.state) ? row : undefined;
  }, 120_000, "the job to finish after the restart", 200).catch((e: Error) => {
    // The logs say why: the coordinator's since its restart, the agent's last lines.
    throw new Error(`${e.message}\n--- coordinator ---\n${coord.output().slice(-6000)}\n--- agent ---\n${agent.output().slice(-6000)}`);
  });
  assert.equal(final.state, "done", final.message ?? "");
  t.diagnostic(`coordinator back ${restartSeconds.toFixed(2)} s after SIGKILL; ${doneBefore.length} chunks were done before`);

  // Chunks finished before the crash were never attempted again. (Under heavy load a chunk may have had
  // more than one attempt before its commit, e.g. a speculative copy or an agent briefly thought lost;
  // what the restart must not do is start a new one.)
  for (const chunkId of doneBefore) {
    const attempts = db.all<AttemptRow>(`SELECT id, chunk_id, state, created_at FROM attempts WHERE chunk_id = ?`, chunkId);
    assert.equal(attempts.filter((a) => a.state === "committed").length, 1, `chunk ${chunkId} committed once`);
    assert.deepEqual(attempts.filter((a) => a.created_at >= killedAt).map((a) => a.id), [], `chunk ${chunkId} not attempted after the restart`);
  }
  for (const c of db.all<{ id: string }>(`SELECT id FROM chunks WHERE job_id = ?`, jobId)) {
    assert.equal(db.all<AttemptRow>(`SELECT * FROM attempts WHERE chunk_id = ? AND state = 'committed'`, c.id).length, 1);
  }
  await assertGeneratedOutput(dir, final.output_dir, N, W, H);
  assert.equal(db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM frames WHERE job_id = ?`, jobId)?.n, N);
  await agent.stop();
  await coord.stop();
});
