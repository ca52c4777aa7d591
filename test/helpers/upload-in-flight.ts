import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import type { TestContext } from "node:test";
import { CoordinatorClient } from "../../agent/grpc/gateway-client.ts";
import { uploadAttempt } from "../../agent/grpc/result-uploader.ts";
import type { EncodedFrame } from "../../agent/executors/executor.ts";
import { ClaimStreams } from "../../coordinator/grpc/claim-stream-handler.ts";
import type { ClaimService } from "../../coordinator/dispatch/claim-service.ts";
import type { ClaimRequest, ClaimResponse } from "../../proto/gen/nightshift/v1/agent_gateway.ts";
import { stagingDirFor } from "../../coordinator/sink/staging.ts";
import { defer } from "./defer.ts";
import { eventually } from "./eventually.ts";
import { startCoordinatorGrpc } from "./grpc-fixture.ts";
import { ACCOUNTING, framePath, setupSink } from "./sink-fixture.ts";
import { queueChunk } from "./store-fixture.ts";

// Why this file exists: the tests of a connection broken or gone silent under an upload (claim-cut-upload,
// grpc-redial) start from the same upload in flight and check the same single commit.

/**
 * The sink fixture (att_live uploading chunk 0, frames 0-2; chunk 1 queued for a claim), a coordinator whose
 * claim streams answer through `answer`, and an upload of att_live whose frames after the first wait for
 * `release`: the upload is in flight, its first frame staged, when the test breaks the claim stream.
 */
export async function uploadInFlight(t: TestContext, answer: (claims: ClaimService, req: ClaimRequest) => Promise<ClaimResponse>, through?: (port: number) => Promise<string>) {
  const s = setupSink(t);
  const claimed = s.chunks[1]!;
  const dispatchId = queueChunk(s.store, claimed.id);
  const g = await startCoordinatorGrpc(t, s.store, s.sink, s.clock.now, 0, { streamsOf: (claims) => new ClaimStreams((req) => answer(claims, req)) });
  const client = new CoordinatorClient(through ? await through(g.port) : `127.0.0.1:${g.port}`);
  defer(t, () => client.close());
  const sent = new Map<number, Buffer>();
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  async function* frames(): AsyncIterable<EncodedFrame> {
    for (let i = 0; i < s.header.frameCount; i++) {
      if (i === 1) await gate;
      const data = randomBytes(4096);
      sent.set(i, data);
      yield { index: i, data, format: "png" };
    }
  }
  // In parts: a small chunk is otherwise held and sent whole at its end (agent/grpc/whole-upload.ts), never in flight.
  const uploading = uploadAttempt(client, s.header, frames(), async () => ACCOUNTING, new AbortController().signal, "stream-parts");
  const staging = stagingDirFor(s.outputRoot, s.header.attemptId);
  await eventually(() => existsSync(staging) && readdirSync(staging).length === 1, "the upload's first frame staged", 10_000);
  const ask = { agentId: s.agent.id, chunkId: claimed.id, dispatchId, delivery: 1 };
  return { s, g, client, claimed, ask, sent, release, uploading, staging };
}

/** The upload committed once, under its attempt, with every frame's bytes as sent and no frame left staged. */
export function assertCommittedOnce(u: Awaited<ReturnType<typeof uploadInFlight>>): void {
  const { s, sent, staging } = u;
  assert.equal(s.store.attempts.get(s.header.attemptId)?.state, "committed");
  assert.equal(s.store.chunks.get(s.chunk.id)?.state, "done");
  assert.deepEqual(s.committed, [s.job.id], "one commit");
  const rows = s.store.db.prepare(`SELECT frame, attempt_id AS attemptId FROM frames WHERE chunk_id = ? ORDER BY frame`).all(s.chunk.id);
  assert.deepEqual(rows, [0, 1, 2].map((frame) => ({ frame, attemptId: s.header.attemptId })), "each frame recorded once, under the attempt");
  for (const [i, data] of sent) assert.ok(readFileSync(framePath(s.job, i)).equals(data), `frame ${i}'s bytes as sent`);
  // Its staging dir emptied by the commit (kept as a spare or removed: staging-removals.ts).
  assert.deepEqual(existsSync(staging) ? readdirSync(staging) : [], [], "nothing left staged");
}

