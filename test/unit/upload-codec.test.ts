import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { UploadMessage } from "../../proto/gen/nightshift/v1/sink.ts";
import { decodeUploadMessage, encodeUploadMessage } from "../../shared/upload-codec.ts";

const frame = (data: Buffer, pixelsSha256 = "", uploadId = 0): UploadMessage => ({ body: { $case: "frame", value: { index: 300, data, sha256: "ab".repeat(32), format: "png", size: data.length, pixelsSha256 } }, uploadId });

test("a frame message round-trips both ways with the generated codec: same wire meaning, data intact", () => {
  for (const n of [1, 127, 128, 16_384, 1_048_576 + 3]) {
    const data = randomBytes(n);
    const ours = encodeUploadMessage(frame(data));
    assert.deepEqual(UploadMessage.decode(ours), frame(data), `generated decoder reads ours (${n} bytes)`);
    const theirs = Buffer.from(UploadMessage.encode(frame(data)).finish());
    assert.deepEqual(decodeUploadMessage(theirs), frame(data), `ours reads the generated encoding (${n} bytes)`);
    assert.equal(ours.length, theirs.length, "same size on the wire");
  }
});

test("a frame's pixels_sha256 (field 6) round-trips both ways too", () => {
  const data = randomBytes(4096);
  const m = frame(data, "cd".repeat(32));
  const ours = encodeUploadMessage(m);
  assert.deepEqual(UploadMessage.decode(ours), m, "generated decoder reads ours");
  assert.deepEqual(decodeUploadMessage(Buffer.from(UploadMessage.encode(m).finish())), m, "ours reads the generated encoding");
  assert.notEqual(ours.length, encodeUploadMessage(frame(data)).length, "an empty one is not on the wire");
});

test("header and accounting messages, and a malformed buffer, go through the generated codec", () => {
  const header: UploadMessage = { body: { $case: "header", value: { jobId: "j", chunkId: "c", attemptId: "a", agentId: "g", frameCount: 8 } }, uploadId: 0 };
  assert.deepEqual(decodeUploadMessage(encodeUploadMessage(header)), header);
  const truncated = encodeUploadMessage(frame(randomBytes(1000))).subarray(0, 500);
  assert.throws(() => decodeUploadMessage(truncated), "a truncated message is an error, not a short frame");
});

test("an UploadStream frame's upload_id (field 4) round-trips both ways, small and multi-byte", () => {
  for (const id of [1, 300, 2 ** 31 + 5]) {
    const data = randomBytes(2048);
    const m = frame(data, "", id);
    const ours = encodeUploadMessage(m);
    assert.deepEqual(UploadMessage.decode(ours), m, `generated decoder reads ours (id ${id})`);
    assert.deepEqual(decodeUploadMessage(Buffer.from(UploadMessage.encode(m).finish())), m, `ours reads the generated encoding (id ${id})`);
    const header: UploadMessage = { body: { $case: "header", value: { jobId: "j", chunkId: "c", attemptId: "a", agentId: "g", frameCount: 8 } }, uploadId: id };
    assert.deepEqual(decodeUploadMessage(encodeUploadMessage(header)), header);
  }
});
