import { renameSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import type { Clock } from "../../shared/clock.ts";
import type { Logger } from "../../shared/log.ts";
import { sha256Bytes } from "../../shared/model-manifest/model-file-hash.ts";
import { JOB_MANIFEST_FORMAT, type JobManifest } from "../../shared/provenance/provenance-manifest.ts";
import { signManifest, type ProvenanceSigner } from "../../shared/provenance/provenance-signature.ts";
import type { JobSpecs } from "../jobs/job-specs.ts";
import { embeddedPixelsSha256 } from "./embedded-pixels-sha256.ts";
import { provenanceSteps } from "./provenance-steps.ts";
import { fsyncDir, writeFileDurableSync } from "../sink/durable-fs.ts";
import type { FrameRow } from "../store/frames-table.ts";
import type { JobRow } from "../store/jobs-table.ts";
import type { Store } from "../store/store.ts";

export const JOB_MANIFEST_FILE = "manifest.json";

/**
 * At job end, `<job folder>/manifest.json`: every committed frame with the
 * sha256 of its file and of its pixels, signed like the frames. Written
 * atomically (temp, fsync, rename); its text also goes into the video's
 * container metadata (tag `nightshift`).
 *
 * What each hash says (tenth round): both come from the frames table, where
 * the sink put them in the commit's transaction, not from reading the files
 * back at job end (which grew with the job: 736 ms for 512 frames against 38
 * from the table, 2.3 s for 4,096 against 124 ms, bench/job-manifest-cost.bench.ts
 * on a loaded 2-core machine):
 *  - `sha256`: of exactly the bytes the sink fsynced and renamed into place
 *    under the frame's name at the commit (the agent's bytes with the
 *    coordinator's record: result-sink.ts, finishPngs/finishExrs; the agent's
 *    bytes, checked against its sha256, for a frame stored as sent);
 *  - `pixelsSha256`: the pixel hash that file's own record names (the one the
 *    sink signed into it; for a frame stored as sent, the one its embedded
 *    record names, read from its chunk or header at the commit), null when none.
 * So the manifest states what was committed; it no longer notices a file
 * changed on disk between its commit and the job's end. `nightshift verify`
 * (verify-frames.ts) still reads every file: it checks each record's
 * signature and pixel hash, the manifest's pixelsSha256 against the file's
 * record and its sha256 against the file's bytes, and with the store the
 * ledger's sha256 against the file's bytes.
 * Rows committed before the table held these (file_sha256 NULL) are read
 * back, one at a time, as before.
 */
export class JobManifestWriter {
  constructor(
    private readonly store: Store,
    private readonly specs: JobSpecs,
    private readonly signer: ProvenanceSigner,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /** Writes the manifest and returns its text; undefined (logged) when it could not be written. */
  async write(job: JobRow, state: string): Promise<string | undefined> {
    try {
      const frames = [];
      for (const f of this.store.frames.listByJob(job.id)) frames.push({ frame: f.frame, file: relative(job.outputDir, f.path), ...(await hashesOf(f)) });
      const manifest: JobManifest = {
        format: JOB_MANIFEST_FORMAT,
        job: { id: job.id, name: job.name, state },
        steps: provenanceSteps(this.specs.steps(job), { treeList: true }),
        seed: job.seed,
        frames: frames.sort((a, b) => a.frame - b.frame),
        signedAt: new Date(this.clock()).toISOString(),
      };
      const text = `${JSON.stringify(signManifest(manifest, this.signer), null, 1)}\n`;
      const path = join(job.outputDir, JOB_MANIFEST_FILE);
      writeFileDurableSync(`${path}.tmp`, Buffer.from(text));
      renameSync(`${path}.tmp`, path);
      fsyncDir(job.outputDir);
      return text;
    } catch (err) {
      this.log.error({ jobId: job.id, err: (err as Error).message }, "job manifest could not be written");
      return undefined;
    }
  }
}

/** A frame's two hashes as recorded at its commit; read back from its file for a row committed before they were. */
async function hashesOf(f: FrameRow): Promise<{ sha256: string; pixelsSha256: string | null }> {
  if (f.fileSha256 != null) return { sha256: f.fileSha256, pixelsSha256: f.pixelsSha256 ?? null };
  const bytes = await readFile(f.path);
  return { sha256: sha256Bytes(bytes), pixelsSha256: embeddedPixelsSha256(bytes) };
}
