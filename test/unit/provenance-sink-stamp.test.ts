import assert from "node:assert/strict";
import { existsSync, readFileSync, truncateSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { agentSoftware } from "../../coordinator/provenance/frame-stamper.ts";
import { PixelClaimSampler } from "../../coordinator/provenance/pixel-claims.ts";
import { checkFrame, verifyPath } from "../../coordinator/provenance/verify-frames.ts";
import { reconcileStaging } from "../../coordinator/sink/reconcile-staging.ts";
import { stagedFrameName, stagingDirFor } from "../../coordinator/sink/staging.ts";
import { UploadRefusedError } from "../../shared/errors.ts";
import { generateFrame } from "../../shared/media/generated-frames.ts";
import { decodePng, encodePng } from "../../shared/media/png-codec.ts";
import { PngFormatError, readTextChunk, removeTextChunk, withTextChunk } from "../../shared/media/png-text-chunk.ts";
import { rgbPixelsSha256 } from "../../shared/provenance/pixel-hash.ts";
import { frameManifestSchema, PROVENANCE_KEYWORD, type FrameManifest } from "../../shared/provenance/provenance-manifest.ts";
import { ACCOUNTING, framePath, setupSink, sha256Hex } from "../helpers/sink-fixture.ts";
import { stampedSink } from "../helpers/stamped-sink.ts";
import { testLog } from "../helpers/test-log.ts";

/**
 * The sink with the coordinator's FrameStamper: a PNG is staged without its
 * end (and without a sync) when it arrives, and at the commit its signed
 * record and IEND are written in the room kept for them before the file's
 * one sync.
 */

const png = (i: number, tweak?: (b: Uint8Array) => Uint8Array) => {
  let data = encodePng(generateFrame(i, 24, 16, 3));
  if (tweak) data = tweak(data);
  return { index: i, data, sha256: sha256Hex(data), size: data.length, format: "png" };
};

test("a PNG is staged with room for its record and no IEND, then committed with a signed record in that room that verifies and names its pixels", async (t) => {
  const s = await stampedSink(t);
  const frames = [png(0), png(1), png(2)];
  const session = await s.sink.begin(s.header);
  for (const f of frames) await session.addFrame(f);
  const staged = readFileSync(join(stagingDirFor(s.outputRoot, s.header.attemptId), stagedFrameName(1)));
  assert.throws(() => readTextChunk(staged, PROVENANCE_KEYWORD), PngFormatError, "the staged file has no IEND before the commit");
  const space = s.stamper().recordSpace(s.header, 3);
  assert.equal(staged.length, frames[1]!.data.length + space, "the agent's bytes and the room for the record chunk");
  assert.equal(await session.commit(ACCOUNTING), 3);
  for (const f of frames) {
    const bytes = readFileSync(framePath(s.job, f.index));
    assert.equal(bytes.length, f.data.length + space, "the record was written in its room: the file kept its size");
    const check = checkFrame(bytes, s.caPem);
    assert.equal(check.kind, "ok", check.kind === "ok" ? "" : check.reason);
    assert.deepEqual(removeTextChunk(bytes, PROVENANCE_KEYWORD), Buffer.from(f.data), "the agent's bytes plus one chunk");
    const m = frameManifestSchema.parse(JSON.parse(readTextChunk(bytes, PROVENANCE_KEYWORD)!).manifest);
    assert.equal(m.frame, f.index);
    assert.equal(m.attempt, s.header.attemptId);
    assert.equal(m.png.sha256, f.sha256);
    assert.deepEqual(m.pixels, { sha256: sha256Hex(decodePng(f.data).data), width: 24, height: 16, by: "coordinator" }, "no claim sent: decoded here");
    assert.equal(m.renderSeconds, ACCOUNTING.busySeconds / 3);
    assert.equal(m.energy.joules, ACCOUNTING.energyJoules / 3);
    assert.equal(m.energy.source, ACCOUNTING.energySource);
    assert.deepEqual(m.software, { nightshift: "0.0.0-test", onnxruntime: "1.30.0" }, "the versions the agent reported");
  }
});

test("PNGs staged without a sync by an upload cut off before its commit are discarded at start-up; the upload again commits frames that verify", async (t) => {
  const s = await stampedSink(t);
  const frames = [png(0), png(1), png(2)];
  const cut = await s.sink.begin(s.header);
  for (const f of frames) await cut.addFrame(f);
  // The coordinator dies here: nothing was acknowledged, and a staged file may hold anything (a write the crash cut short).
  const dir = stagingDirFor(s.outputRoot, s.header.attemptId);
  truncateSync(join(dir, stagedFrameName(1)), 7);
  assert.deepEqual(reconcileStaging(s.outputRoot, s.store, testLog()), { completed: 0, discarded: 1, stuck: [] });
  assert.equal(existsSync(dir), false, "the uncommitted staging dir is gone");
  assert.equal(s.store.frames.countByJob(s.job.id), 0, "nothing recorded");
  for (const f of frames) assert.equal(existsSync(framePath(s.job, f.index)), false);

  // The agent uploads the chunk again (the attempt is still live): every frame arrives whole and is signed.
  // (The dead process's upload went with it: this sink, standing in for the restarted one, is told so.)
  s.sink.ended(s.header.attemptId);
  const again = await s.sink.begin(s.header);
  for (const f of frames) await again.addFrame(f);
  assert.equal(await again.commit(ACCOUNTING), 3);
  for (const f of frames) {
    const bytes = readFileSync(framePath(s.job, f.index));
    const check = checkFrame(bytes, s.caPem);
    assert.equal(check.kind, "ok", check.kind === "ok" ? "" : check.reason);
    assert.deepEqual(removeTextChunk(bytes, PROVENANCE_KEYWORD), Buffer.from(f.data));
  }
});

test("the room kept for a record holds the longest one (long numbers, energy source, frame and image size); a record that does not fit still commits", async (t) => {
  const s = await stampedSink(t);
  const space = s.stamper().recordSpace(s.header, 3);
  const pixels = { sha256: "ab".repeat(32), width: 2 ** 31 - 1, height: 2 ** 31 - 1, by: "coordinator" as const };
  const worst = { ...ACCOUNTING, busySeconds: 3 * -0.0000012345678901234567, energyJoules: 3 * -0.0000012345678901234567, energySource: "nvidia-smi" as const };
  const chunks = s.stamper().recordChunks(s.header, [0, 1, 2].map((index) => ({ index, pngSha256: "cd".repeat(32), pixels })), 3, worst, space);
  for (const c of chunks.values()) assert.equal(c.length, space, "padded to exactly the room");

  // A stamper that keeps too little room: the file is cut and written whole at the commit, and still verifies.
  const small = s.stamper();
  small.recordSpace = () => 40;
  const frames = [png(0), png(1), png(2)];
  const session = await s.sink.begin(s.header);
  for (const f of frames) await session.addFrame(f);
  assert.equal(await session.commit(ACCOUNTING), 3);
  for (const f of frames) {
    const bytes = readFileSync(framePath(s.job, f.index));
    assert.equal(checkFrame(bytes, s.caPem).kind, "ok");
    assert.deepEqual(removeTextChunk(bytes, PROVENANCE_KEYWORD), Buffer.from(f.data));
  }
});

/** A frame as the OnnxExecutor sends it: with the sha256 of the RGB samples it encoded (or another claim). */
const claimed = (i: number, claim?: string) => {
  const frame = generateFrame(i, 24, 16, 3);
  return { ...png(i), pixelsSha256: claim ?? rgbPixelsSha256(frame) };
};
const recordOf = (bytes: Uint8Array): FrameManifest => frameManifestSchema.parse(JSON.parse(readTextChunk(bytes, PROVENANCE_KEYWORD)!).manifest);
/** Never samples: only an agent's first claim is checked. */
const firstOnly = () => new PixelClaimSampler(0, () => 0.5);

test("an agent's pixel hash: its first claim is checked by decoding, later ones are recorded as the agent's, and every record verifies", async (t) => {
  const s = await stampedSink(t, { claims: firstOnly() });
  const frames = [claimed(0), claimed(1), claimed(2)];
  const session = await s.sink.begin(s.header);
  for (const f of frames) await session.addFrame(f);
  assert.equal(await session.commit(ACCOUNTING), 3);
  const by = frames.map((f) => {
    const bytes = readFileSync(framePath(s.job, f.index));
    const check = checkFrame(bytes, s.caPem);
    assert.equal(check.kind, "ok", check.kind === "ok" ? "" : check.reason);
    const m = recordOf(bytes);
    assert.deepEqual({ ...m.pixels, by: undefined }, { sha256: sha256Hex(decodePng(f.data).data), width: 24, height: 16, by: undefined });
    return m.pixels.by;
  });
  assert.deepEqual(by, ["coordinator", "agent", "agent"]);
});

test("a claim that does not match the pixels is refused (bad-frame) when checked, and that agent's next claim is checked again", async (t) => {
  const s = await stampedSink(t, { claims: firstOnly() });
  const wrong = "0".repeat(64);
  let session = await s.sink.begin(s.header);
  await session.addFrame(claimed(0, wrong));
  await session.addFrame(claimed(1));
  await session.addFrame(claimed(2));
  await assert.rejects(session.commit(ACCOUNTING), (e: unknown) => e instanceof UploadRefusedError && e.reason === "bad-frame" && /frame 0: pixels_sha256 .* does not match/.test(e.message));
  await session.abort();
  assert.equal(s.store.frames.countByJob(s.job.id), 0, "nothing recorded");

  // The same agent again: with nothing sampled, only a re-check of its next claim can catch this one.
  session = await s.sink.begin(s.header);
  await session.addFrame(claimed(0, wrong));
  await session.addFrame(claimed(1));
  await session.addFrame(claimed(2));
  await assert.rejects(session.commit(ACCOUNTING), (e: unknown) => e instanceof UploadRefusedError && e.reason === "bad-frame" && /frame 0/.test(e.message));
  await session.abort();

  session = await s.sink.begin(s.header);
  await session.addFrame({ ...claimed(0), pixelsSha256: "NOT-A-HASH" });
  await session.addFrame(claimed(1));
  await session.addFrame(claimed(2));
  await assert.rejects(session.commit(ACCOUNTING), (e: unknown) => e instanceof UploadRefusedError && e.reason === "bad-frame" && /frame 0: pixels_sha256 .* not a lower-case hex sha256/.test(e.message));
  await session.abort();
  assert.equal(s.store.frames.countByJob(s.job.id), 0);
});

test("a wrong claim that was not sampled is signed as the agent's, and verify finds the frame altered", async (t) => {
  const s = await stampedSink(t, { claims: firstOnly() });
  const session = await s.sink.begin(s.header);
  await session.addFrame(claimed(0));
  await session.addFrame(claimed(1, "0".repeat(64)));
  await session.addFrame(claimed(2));
  await session.commit(ACCOUNTING);
  const bytes = readFileSync(framePath(s.job, 1));
  assert.equal(recordOf(bytes).pixels.by, "agent", "the record says whose word it is");
  const check = checkFrame(bytes, s.caPem);
  assert.ok(check.kind === "altered", check.kind);
  assert.match(check.reason, /agent/);
});

test("the claim sampler: an agent's first claim always, then the given share, from its random source", () => {
  const draws = [0.01, 0.5, 0.02, 0.99];
  const sampler = new PixelClaimSampler(0.03, () => draws.shift()!);
  assert.deepEqual([sampler.shouldCheck("a"), sampler.shouldCheck("b")], [true, true], "first claims");
  assert.deepEqual([sampler.shouldCheck("a"), sampler.shouldCheck("a"), sampler.shouldCheck("b"), sampler.shouldCheck("b")], [true, false, true, false]);
  sampler.failed("a");
  assert.equal(sampler.shouldCheck("a"), true, "after a failed check, the next claim is checked");
  assert.throws(() => new PixelClaimSampler(1.5), RangeError);
  const real = new PixelClaimSampler(1);
  real.shouldCheck("x");
  assert.equal(real.shouldCheck("x"), true, "rate 1 checks everything (crypto source)");
});

test("a PNG that arrives with its own nightshift record keeps only the coordinator's", async (t) => {
  const s = await stampedSink(t);
  const forged = (b: Uint8Array): Uint8Array => withTextChunk(b, PROVENANCE_KEYWORD, JSON.stringify({ manifest: { forged: true } }));
  const session = await s.sink.begin(s.header);
  for (const i of [0, 1, 2]) await session.addFrame(png(i, forged));
  await session.commit(ACCOUNTING);
  const bytes = readFileSync(framePath(s.job, 0));
  assert.equal(checkFrame(bytes, s.caPem).kind, "ok");
  assert.equal(Buffer.from(bytes).toString("latin1").split(`iTXt${PROVENANCE_KEYWORD}\0`).length, 2, "one record, the forged one is gone");
  assert.deepEqual(removeTextChunk(bytes, PROVENANCE_KEYWORD), Buffer.from(png(0).data));
  // The ledger and the record name the PNG without the stale record (as for EXR), so verify against the ledger passes.
  const ledger = (jobId: string) => s.store.frames.listByJob(jobId);
  assert.deepEqual(ledger(s.job.id).map((r) => r.sha256), [0, 1, 2].map((i) => sha256Hex(png(i).data)));
  assert.equal(recordOf(bytes).png.sha256, sha256Hex(png(0).data));
  const report = verifyPath(s.job.outputDir, s.caPem, ledger);
  assert.deepEqual(report.findings, [], "no frame is reported altered");
  assert.equal(report.verified.length, 3);
});

test("a PNG without IEND is refused when it arrives; one whose pixels do not decode is refused at the commit; nothing is recorded", async (t) => {
  const s = await stampedSink(t);
  const noEnd = (b: Uint8Array): Uint8Array => b.subarray(0, b.length - 12);
  let session = await s.sink.begin(s.header);
  await assert.rejects(session.addFrame(png(0, noEnd)), (e: unknown) => e instanceof UploadRefusedError && e.reason === "bad-frame");
  await session.abort();

  // Zero the compressed pixel data of frame 1: the chunk structure holds, the decode does not.
  const badPixels = (b: Uint8Array): Uint8Array => {
    const out = Buffer.from(b);
    const idat = out.indexOf("IDAT");
    out.fill(0, idat + 4, idat + 4 + out.readUInt32BE(idat - 4));
    return out;
  };
  session = await s.sink.begin(s.header);
  await session.addFrame(png(0));
  await session.addFrame(png(1, badPixels));
  await session.addFrame(png(2));
  await assert.rejects(session.commit(ACCOUNTING), (e: unknown) => e instanceof UploadRefusedError && e.reason === "bad-frame" && /frame 1/.test(e.message));
  await session.abort();
  assert.equal(s.store.frames.countByJob(s.job.id), 0);
  assert.notEqual(s.store.attempts.get(s.header.attemptId)?.state, "committed");
});

test("software: the agent's nightshift and, per step kind used, the tool version it reported", () => {
  const agent = { version: "1.2.0", kinds: [{ kind: "model", version: "1.30.0", features: [] }, { kind: "blender", version: "3.4.1", features: [] }, { kind: "command", version: "", features: [] }] };
  const steps = (...kinds: string[]) => kinds.map((kind, i) => ({ id: `s${i}`, kind, hashes: {} }));
  assert.deepEqual(agentSoftware(agent, steps("blender", "model")), { nightshift: "1.2.0", blender: "3.4.1", onnxruntime: "1.30.0" });
  assert.deepEqual(agentSoftware(agent, steps("comfyui", "command")), { nightshift: "1.2.0", comfyui: "unknown" }, "a kind the agent never reported is unknown; a command has no tool version");
  assert.deepEqual(agentSoftware(undefined, steps("model")), { nightshift: "unknown", onnxruntime: "unknown" });
});
