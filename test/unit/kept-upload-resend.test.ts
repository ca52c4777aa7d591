import { test } from "node:test";
import assert from "node:assert/strict";
import { Metadata, status } from "@grpc/grpc-js";
import { uploadAttempt, type UploadTarget } from "../../agent/grpc/result-uploader.ts";
import type { CoordinatorClient } from "../../agent/grpc/gateway-client.ts";
import type { StreamUpload } from "../../agent/grpc/upload-stream.ts";
import type { EncodedFrame } from "../../agent/executors/executor.ts";
import type { UploadMessage, UploadResult } from "../../proto/gen/nightshift/v1/sink.ts";
import { ACCOUNTING, sha256Hex } from "../helpers/sink-fixture.ts";

const TARGET: UploadTarget = { jobId: "job_1", chunkId: "chk_1", attemptId: "att_1", agentId: "agt_1", frameCount: 3 };
const gone = (): Error => Object.assign(new Error("14 UNAVAILABLE: the coordinator went away"), { code: status.UNAVAILABLE, details: "the coordinator went away", metadata: new Metadata() });

/**
 * A client whose first upload loses its coordinator (UNAVAILABLE, as at a restart) at the write `awayAt` says,
 * and whose later uploads commit at their last message (the accounting, or a whole upload); each upload's
 * messages recorded as written. `takesWhole`: the coordinator offers whole uploads (agent/grpc/whole-upload.ts).
 */
function restartingClient(awayAt: (written: readonly UploadMessage[]) => boolean, takesWhole = false) {
  const sent: UploadMessage[][] = [];
  const begin = async (): Promise<StreamUpload> => {
    const n = sent.length;
    const msgs: UploadMessage[] = [];
    sent.push(msgs);
    let commit!: (r: UploadResult) => void;
    const result = new Promise<UploadResult>((resolve) => (commit = resolve));
    return {
      result,
      takesWhole,
      write: async (msg) => {
        if (n === 0 && awayAt(msgs)) throw gone();
        msgs.push(msg);
        if (msg.body?.$case === "accounting") commit({ committed: true, framesWritten: msgs.length - 2, message: "" });
        if (msg.body?.$case === "whole") commit({ committed: true, framesWritten: msg.body.value.frames.length, message: "" });
      },
      end: () => undefined,
      cancel: () => undefined,
    };
  };
  return { client: { uploads: { begin } } as unknown as CoordinatorClient, sent };
}

async function* threeFrames(): AsyncIterable<EncodedFrame> {
  for (let i = 0; i < 3; i++) yield { index: i, data: new Uint8Array(1024).fill(i + 1), format: "png" };
}

const frameBodies = (msgs: readonly UploadMessage[]) => msgs.flatMap((m) => (m.body?.$case === "frame" ? [m.body.value] : []));

test("a kept upload is sent again as it was first made: the same frame messages, their sha256 taken once, not hashed again", async () => {
  // Away after the header and one frame.
  const { client, sent } = restartingClient((written) => written.length >= 2);
  const result = await uploadAttempt(client, TARGET, threeFrames(), async () => ACCOUNTING, new AbortController().signal, "stream", { bytes: 1 << 20, withinMs: 5_000 });
  assert.equal(result.committed, true);
  assert.equal(sent.length, 2, "one send, then one send again");
  const [first, again] = [frameBodies(sent[0]!), frameBodies(sent[1]!)];
  assert.equal(first.length, 1, "the coordinator went away after the first frame");
  assert.deepEqual(again.map((f) => f.index), [0, 1, 2]);
  for (const f of again) assert.equal(f.sha256, sha256Hex(f.data), `frame ${f.index}'s sha256`);
  // The frame the first send carried goes again as that very message, not rebuilt (and rehashed) from its bytes.
  assert.equal(again[0], first[0]);
});

test("a whole upload whose coordinator went away as it was sent is kept and sent again whole, the same frames, once it is back", async () => {
  // Away as the whole message goes (its first write).
  const { client, sent } = restartingClient(() => true, true);
  const result = await uploadAttempt(client, TARGET, threeFrames(), async () => ACCOUNTING, new AbortController().signal, "stream", { bytes: 1 << 20, withinMs: 5_000 });
  assert.deepEqual({ committed: result.committed, framesWritten: result.framesWritten }, { committed: true, framesWritten: 3 });
  assert.equal(sent.length, 2, "one send, then one send again");
  assert.deepEqual(sent[1]!.map((m) => m.body?.$case), ["whole"], "sent again as one whole message");
  const whole = sent[1]![0]!.body as Extract<UploadMessage["body"], { $case: "whole" }>;
  assert.deepEqual(whole.value.header, TARGET);
  assert.deepEqual(whole.value.accounting, ACCOUNTING);
  assert.deepEqual(whole.value.frames.map((f) => f.index), [0, 1, 2]);
  for (const f of whole.value.frames) assert.equal(f.sha256, sha256Hex(f.data), `frame ${f.index}'s sha256`);
});
