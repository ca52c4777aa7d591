import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { checkFrame, verifyPath } from "../../coordinator/provenance/verify-frames.ts";
import { stagedFrameName, stagingDirFor } from "../../coordinator/sink/staging.ts";
import { UploadRefusedError } from "../../shared/errors.ts";
import { exrLayout, readExrText, removeExrText, withExrText } from "../../shared/media/exr-header-attribute.ts";
import { exrPixelsOf } from "../../shared/provenance/exr-pixel-hash.ts";
import { exrFrameManifestSchema, PROVENANCE_KEYWORD } from "../../shared/provenance/provenance-manifest.ts";
import { ACCOUNTING, framePath, setupSink, sha256Hex } from "../helpers/sink-fixture.ts";
import { stampedSink } from "../helpers/stamped-sink.ts";

/**
 * The sink with the coordinator's FrameStamper, for EXR frames: each is staged
 * as it arrives, and at the commit written again with its signed record in
 * the header (offsets shifted) before its one fsync; verify reads it back.
 */

const FIXTURES = new URL("../fixtures/exr/", import.meta.url).pathname;
const exr = (index: number, file: string, tweak?: (b: Buffer) => Buffer) => {
  let data: Buffer = readFileSync(join(FIXTURES, file));
  if (tweak) data = tweak(data);
  return { index, data, sha256: sha256Hex(data), size: data.length, format: "exr" };
};
const threeFrames = () => [exr(0, "zip-32.exr"), exr(1, "piz-16.exr"), exr(2, "dwaa-16.exr")];
const recordOf = (bytes: Uint8Array) => exrFrameManifestSchema.parse(JSON.parse(readExrText(bytes, PROVENANCE_KEYWORD)!).manifest);

test("an EXR is staged as sent, then committed with a signed record in its header that verifies and names its pixel chunks", async (t) => {
  const s = await stampedSink(t);
  const frames = threeFrames();
  const session = await s.sink.begin(s.header);
  for (const f of frames) await session.addFrame(f);
  const staged = readFileSync(join(stagingDirFor(s.outputRoot, s.header.attemptId), stagedFrameName(1)));
  assert.deepEqual(staged, frames[1]!.data, "staged as the agent sent it, no record yet");
  assert.equal(await session.commit(ACCOUNTING), 3);
  for (const f of frames) {
    const bytes = readFileSync(framePath(s.job, f.index));
    const check = checkFrame(bytes, s.caPem);
    assert.equal(check.kind, "ok", check.kind === "ok" ? "" : check.reason);
    assert.deepEqual(removeExrText(bytes, PROVENANCE_KEYWORD), f.data, "the agent's bytes plus the record");
    assert.equal(exrLayout(bytes).chunkCount, exrLayout(f.data).chunkCount);
    const m = recordOf(bytes);
    assert.equal(m.frame, f.index);
    assert.equal(m.attempt, s.header.attemptId);
    assert.equal(m.exr.sha256, f.sha256);
    assert.deepEqual(m.pixels, { ...exrPixelsOf(f.data), by: "coordinator" });
    assert.deepEqual([m.pixels.width, m.pixels.height], [29, 70]);
    assert.equal(m.renderSeconds, ACCOUNTING.busySeconds / 3);
    assert.equal(m.energy.source, ACCOUNTING.energySource);
    assert.equal(s.store.frames.listByJob(s.job.id).find((r) => r.frame === f.index)?.sha256, f.sha256, "the ledger names the agent's bytes");
  }
  // The whole folder, against the ledger too.
  const ledger = (jobId: string) => s.store.frames.listByJob(jobId);
  const report = verifyPath(s.job.outputDir, s.caPem, ledger);
  assert.deepEqual(report.findings, []);
  assert.equal(report.verified.length, 3);
});

test("verify: a flipped pixel byte, an edited header and a removed record are altered, altered and unsigned", async (t) => {
  const s = await stampedSink(t);
  const session = await s.sink.begin(s.header);
  for (const f of threeFrames()) await session.addFrame(f);
  await session.commit(ACCOUNTING);
  const good = readFileSync(framePath(s.job, 0));
  const pixel = Buffer.from(good);
  pixel[pixel.length - 30]! ^= 0x01;
  assert.deepEqual(checkFrame(pixel, s.caPem), { kind: "altered", reason: "pixel chunks differ from the signed record" });
  const header = Buffer.from(good);
  const density = header.indexOf(Buffer.from("xDensity\0float\0"));
  header[density + 19]! ^= 0x01; // the value's last byte: the chunks stay as they were
  assert.deepEqual(checkFrame(header, s.caPem), { kind: "altered", reason: "EXR header differs from the signed record" });
  assert.equal(checkFrame(removeExrText(good, PROVENANCE_KEYWORD), s.caPem).kind, "unsigned");
  // Against the ledger: the flipped byte is found in the folder too.
  writeFileSync(framePath(s.job, 0), pixel);
  const report = verifyPath(s.job.outputDir, s.caPem, (jobId) => s.store.frames.listByJob(jobId));
  assert.deepEqual(report.findings.map((f) => [f.kind, f.file]), [["altered", "frame_0000.png"]]);
});

test("a record the agent put in the EXR is replaced by the coordinator's", async (t) => {
  const s = await stampedSink(t);
  const forged = JSON.stringify({ manifest: { format: "nightshift-frame/1", frame: 0 }, signature: { alg: "ES256", value: "", certificate: "" } });
  const frames = [exr(0, "zip-32.exr", (b) => withExrText(b, PROVENANCE_KEYWORD, forged)), exr(1, "piz-16.exr"), exr(2, "none-32.exr")];
  const session = await s.sink.begin(s.header);
  for (const f of frames) await session.addFrame(f);
  await session.commit(ACCOUNTING);
  const bytes = readFileSync(framePath(s.job, 0));
  assert.equal(checkFrame(bytes, s.caPem).kind, "ok");
  assert.equal(recordOf(bytes).attempt, s.header.attemptId);
  // The ledger names the EXR without the agent's record, so verify against the ledger passes.
  const ledger = (jobId: string) => s.store.frames.listByJob(jobId);
  assert.equal(ledger(s.job.id).find((r) => r.frame === 0)?.sha256, sha256Hex(exr(0, "zip-32.exr").data));
  const report = verifyPath(s.job.outputDir, s.caPem, ledger);
  assert.deepEqual(report.findings, [], "no frame is reported altered");
});

test("a broken EXR is refused (bad-frame) with nothing recorded; a multi-part one is committed unstamped", async (t) => {
  const s = await stampedSink(t);
  let session = await s.sink.begin(s.header);
  const truncated = exr(0, "zip-32.exr", (b) => b.subarray(0, exrLayout(b).chunksStart - 8));
  await assert.rejects(session.addFrame(truncated), (e: unknown) => e instanceof UploadRefusedError && e.reason === "bad-frame" && /frame 0: OpenEXR offset table/.test(e.message));
  await session.abort();
  assert.equal(s.store.frames.countByJob(s.job.id), 0);

  const multi = (b: Buffer) => {
    const c = Buffer.from(b);
    c.writeUInt32LE(2 | 0x1000, 4);
    return c;
  };
  session = await s.sink.begin(s.header);
  const frames = [exr(0, "zip-32.exr", multi), exr(1, "piz-16.exr"), exr(2, "rle-16.exr")];
  for (const f of frames) await session.addFrame(f);
  assert.equal(await session.commit(ACCOUNTING), 3);
  assert.deepEqual(readFileSync(framePath(s.job, 0)), frames[0]!.data, "committed as sent");
  const check = checkFrame(readFileSync(framePath(s.job, 0)), s.caPem);
  assert.equal(check.kind, "unsigned");
  assert.equal(checkFrame(readFileSync(framePath(s.job, 1)), s.caPem).kind, "ok");
});
