import assert from "node:assert/strict";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { JOB_MANIFEST_FILE, JobManifestWriter } from "../../coordinator/provenance/job-manifest.ts";
import { verifyPath } from "../../coordinator/provenance/verify-frames.ts";
import { JobSpecs } from "../../coordinator/jobs/job-specs.ts";
import { withExrText } from "../../shared/media/exr-header-attribute.ts";
import { generateFrame } from "../../shared/media/generated-frames.ts";
import { encodePng } from "../../shared/media/png-codec.ts";
import { withTextChunk } from "../../shared/media/png-text-chunk.ts";
import { jobManifestSchema, PROVENANCE_KEYWORD, type JobManifest } from "../../shared/provenance/provenance-manifest.ts";
import { ACCOUNTING, framePath, randomFrame, sha256Hex, startAttempt } from "../helpers/sink-fixture.ts";
import { stampedSink } from "../helpers/stamped-sink.ts";
import { testLog } from "../helpers/test-log.ts";

/**
 * The job's manifest.json takes each frame's sha256 and pixel hash from the
 * frames table, where the sink recorded them at the commit, instead of
 * reading every frame back at the job's end: the manifest must say exactly
 * what reading the files back says, for PNG and EXR frames, stamped or
 * stored as sent, and rows from before (no recorded hashes) are read back.
 */

const FIXTURES = new URL("../fixtures/exr/", import.meta.url).pathname;
const asFrame = (index: number, data: Uint8Array, format: string) => ({ index, data, sha256: sha256Hex(data), size: data.length, format });
const png = (index: number) => asFrame(index, encodePng(generateFrame(index, 24, 16, 3)), "png");
const exr = (index: number, file: string) => asFrame(index, readFileSync(join(FIXTURES, file)), "exr");
/** A record an agent put in its frame: the sink drops it from a stamped frame, keeps it in one stored as sent. */
const agentRecord = JSON.stringify({ manifest: { pixels: { sha256: "c".repeat(64) } } });

/** The sink with or without the coordinator's stamper, and the job's manifest writer with the same key. */
async function farm(t: TestContext, stamped: boolean) {
  const s = await stampedSink(t, { stamped });
  const signedAt = Date.now(); // one time for both manifests, within the certificate's validity
  const manifests = new JobManifestWriter(s.store, new JobSpecs(), s.signer, () => signedAt, testLog());
  /** Both chunks committed: chunk 0 as `first`, chunk 1 as `second`. */
  const commitBoth = async (first: ReturnType<typeof png>[], second: ReturnType<typeof png>[]) => {
    startAttempt(s.store, s.chunks[1]!.id, s.agent.id, "att_two");
    for (const [header, frames] of [[s.header, first], [{ ...s.header, chunkId: s.chunks[1]!.id, attemptId: "att_two" }, second]] as const) {
      const session = await s.sink.begin(header);
      for (const f of frames) await session.addFrame(f);
      assert.equal(await session.commit(ACCOUNTING), 3);
    }
  };
  const written = async (): Promise<JobManifest> => {
    const text = await manifests.write(s.store.jobs.get(s.job.id)!, "done");
    assert.ok(text !== undefined, "manifest.json written");
    return jobManifestSchema.parse(JSON.parse(text).manifest);
  };
  /** The manifest as the job end made it before this round: every file read back (the rows' recorded hashes cleared). */
  const readBack = async (): Promise<JobManifest> => {
    s.store.db.prepare(`UPDATE frames SET file_sha256 = NULL, pixels_sha256 = NULL WHERE job_id = ?`).run(s.job.id);
    return written();
  };
  return { ...s, commitBoth, written, readBack };
}

test("stamped PNG and EXR frames and one stored as sent: the manifest from the store equals the one read back from the files", async (t) => {
  const s = await farm(t, true);
  const withOwnRecord = png(3);
  await s.commitBoth(
    [png(0), exr(1, "zip-32.exr"), randomFrame(2)],
    [asFrame(3, withTextChunk(withOwnRecord.data, PROVENANCE_KEYWORD, agentRecord), "png"), exr(4, "piz-16.exr"), png(5)],
  );
  const fromStore = await s.written();
  assert.deepEqual(fromStore, await s.readBack());
  for (const f of fromStore.frames) assert.equal(f.sha256, sha256Hex(readFileSync(framePath(s.job, f.frame))), `frame ${f.frame}: the file's bytes`);
  assert.deepEqual(
    fromStore.frames.map((f) => f.pixelsSha256 === null),
    [false, false, true, false, false, false],
    "a pixel hash from each record; none for the frame that is neither PNG nor EXR",
  );
  assert.notEqual(fromStore.frames[3]!.pixelsSha256, "c".repeat(64), "the agent's own record was replaced by the coordinator's");
  // verify reads the folder against that manifest: every frame but the random one (not a PNG or EXR file) holds.
  const report = verifyPath(s.job.outputDir, s.caPem);
  assert.ok(report.usedJobManifest);
  assert.deepEqual(report.findings.map((f) => f.kind), ["unsigned"], JSON.stringify(report.findings));
  // A frame whose record and pixels still hold but whose bytes changed after the commit (a chunk added by another tool):
  // verify holds it against the manifest's sha256, the bytes the sink committed.
  const edited = framePath(s.job, 0);
  writeFileSync(edited, withTextChunk(readFileSync(edited), "Comment", "retouched"));
  const after = verifyPath(s.job.outputDir, s.caPem);
  assert.deepEqual(after.findings.map((f) => [f.kind, f.frame ?? null]), [["unsigned", null], ["altered", 0]], JSON.stringify(after.findings));
  assert.match(after.findings[1]!.reason, /bytes differ/);
});

test("frames stored as sent (no stamper) with records of their own: the manifest from the store equals the one read back", async (t) => {
  const s = await farm(t, false);
  const exrFrame = exr(1, "dwaa-16.exr");
  await s.commitBoth(
    [asFrame(0, withTextChunk(png(0).data, PROVENANCE_KEYWORD, agentRecord), "png"), asFrame(1, withExrText(exrFrame.data, PROVENANCE_KEYWORD, agentRecord), "exr"), png(2)],
    [randomFrame(3), asFrame(4, withTextChunk(png(4).data, PROVENANCE_KEYWORD, "not json"), "png"), exr(5, "zip-32.exr")],
  );
  const fromStore = await s.written();
  assert.deepEqual(fromStore, await s.readBack());
  assert.deepEqual(
    fromStore.frames.map((f) => f.pixelsSha256),
    ["c".repeat(64), "c".repeat(64), null, null, null, null],
    "the pixel hash the frame's own record names, else none",
  );
});

test("the job's end reads no frame: with every frame file moved away after its commit, manifest.json is still written with the files' hashes", async (t) => {
  const s = await farm(t, true);
  await s.commitBoth([png(0), exr(1, "zip-32.exr"), png(2)], [png(3), exr(4, "piz-16.exr"), randomFrame(5)]);
  const files = s.store.frames.listByJob(s.job.id).map((r) => r.path);
  const hashes = files.map((p) => sha256Hex(readFileSync(p)));
  for (const p of files) renameSync(p, `${p}.away`);
  const fromStore = await s.written();
  assert.deepEqual(fromStore.frames.map((f) => f.sha256), hashes);
  assert.ok(readFileSync(join(s.job.outputDir, JOB_MANIFEST_FILE), "utf8").includes(hashes[0]!));
});
