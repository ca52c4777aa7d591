import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { restartableCoordinator } from "../support/restartable-coordinator.ts";
import { readStore } from "../support/read-store.ts";
import { generatedJob, startAgentProcess, tempDir, waitUntil } from "../support/farm.ts";
import { assertGeneratedOutput } from "../support/assert-generated-job.ts";
import { Control } from "../../cli/control-client.ts";
import { adminChannel } from "../../cli/admin-credentials.ts";

interface AttemptRow {
  id: string;
  chunk_id: string;
  state: string;
}

/**
 * The coordinator killed while agents upload: an agent keeps the frames of its chunk (agent/grpc/kept-frames.ts)
 * and sends them again, under the same attempt, to the restarted coordinator, which commits them because that
 * attempt is still the chunk's live one: the chunk is not rendered again. Exactly once: every chunk has one
 * committed attempt and the output holds every frame, once, with the expected bytes.
 */
test("after a coordinator restart, an agent's chunk that was uploading commits under its attempt from before the kill, sent again from the frames it kept", async (t) => {
  const dir = tempDir(t, "ns-restart-kept-");
  const coord = await restartableCoordinator(t, dir);
  const address = coord.address;
  const procs = [await startAgentProcess(t, address, "alpha", dir), await startAgentProcess(t, address, "beta", dir)];
  const logs = (): string => coord.logs(procs);

  const [W, H, N] = [960, 540, 120];
  const control = new Control(address, adminChannel({ dataDir: join(dir, "data") }));
  t.after(() => control.close());
  const { jobId } = await control.submit(JSON.stringify(generatedJob("restart-kept", N, W, H, 10)), dir);
  const db = readStore(join(dir, "data", "nightshift.db"));
  t.after(() => db.close());
  const running = (): AttemptRow[] => db.all<AttemptRow>(`SELECT id, chunk_id, state FROM attempts WHERE job_id = ? AND state = 'running'`, jobId);
  // Both agents mid-chunk (a chunk takes a few seconds at this size), after a first commit: the upload stream is open.
  await waitUntil(() => new Set(db.all<{ agent_id: string }>(`SELECT agent_id FROM attempts WHERE job_id = ? AND state = 'running'`, jobId).map((r) => r.agent_id)).size >= 2 &&
    (db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM chunks WHERE job_id = ? AND state = 'done'`, jobId)?.n ?? 0) >= 1, 90_000, "both agents mid-chunk after a first commit", 20);
  await coord.kill();
  const atKill = running();
  await coord.restart();

  const final = await waitUntil(() => {
    const row = db.get<{ state: string; output_dir: string; message: string | null }>(`SELECT state, output_dir, message FROM jobs WHERE id = ?`, jobId);
    return row && ["done", "failed", "cancelled"].includes(row.state) ? row : undefined;
  }, 120_000, "the job to finish after the restart", 200).catch((e: Error) => {
    // Which chunks are left, and under which attempts (a chunk whose attempt stays running was the whole-upload id bug).
    const rows = db.all<Record<string, unknown>>(`SELECT c.id, c.state, c.frame_start, c.frame_end, a.id AS attempt, a.state AS attempt_state, a.agent_id FROM chunks c LEFT JOIN attempts a ON a.chunk_id = c.id WHERE c.job_id = ? AND c.state <> 'done'`, jobId);
    throw new Error(`${e.message}\nchunks not done: ${JSON.stringify(rows)}\n${logs()}`);
  });
  assert.equal(final.state, "done", final.message ?? "");

  const kept = atKill.filter((a) => db.get<{ state: string }>(`SELECT state FROM attempts WHERE id = ?`, a.id)?.state === "committed");
  t.diagnostic(`attempts running at the kill: ${atKill.length}; committed after the restart under the same attempt: ${kept.length}`);
  assert.ok(kept.length >= 1, `no attempt running at the kill committed after the restart (each chunk was rendered again)\n${logs()}`);
  // Exactly once: one committed attempt per chunk, every frame once with the expected bytes.
  for (const c of db.all<{ id: string }>(`SELECT id FROM chunks WHERE job_id = ?`, jobId)) {
    assert.equal(db.all<AttemptRow>(`SELECT id FROM attempts WHERE chunk_id = ? AND state = 'committed'`, c.id).length, 1, `chunk ${c.id} committed once`);
  }
  await assertGeneratedOutput(dir, final.output_dir, N, W, H);
  assert.equal(db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM frames WHERE job_id = ?`, jobId)?.n, N);
  await coord.now.stop();
});
