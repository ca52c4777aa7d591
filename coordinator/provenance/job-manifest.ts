import { renameSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import type { Clock } from "../../shared/clock.ts";
import type { Logger } from "../../shared/log.ts";
import { readTextChunk } from "../../shared/media/png-text-chunk.ts";
import { isExr, readExrText } from "../../shared/media/exr-header-attribute.ts";
import { sha256Bytes } from "../../shared/model-manifest/model-file-hash.ts";
import { isPng } from "../../shared/provenance/pixel-hash.ts";
import { JOB_MANIFEST_FORMAT, PROVENANCE_KEYWORD, type JobManifest } from "../../shared/provenance/provenance-manifest.ts";
import { signManifest, type ProvenanceSigner } from "../../shared/provenance/provenance-signature.ts";
import type { JobSpecs } from "../jobs/job-specs.ts";
import { provenanceSteps } from "./provenance-steps.ts";
import { fsyncDir, writeFileDurableSync } from "../sink/durable-fs.ts";
import type { JobRow } from "../store/jobs-table.ts";
import type { Store } from "../store/store.ts";

export const JOB_MANIFEST_FILE = "manifest.json";

/**
 * At job end, `<job folder>/manifest.json`: every committed frame with the
 * sha256 of its file and of its pixels, signed like the frames. Written
 * atomically (temp, fsync, rename); its text also goes into the video's
 * container metadata (tag `nightshift`). The frames are read back one at a
 * time without blocking the event loop between them: a job's frames can be
 * gigabytes, and uploads, claims and heartbeats are served meanwhile.
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
      for (const f of this.store.frames.listByJob(job.id)) {
        const bytes = await readFile(f.path);
        frames.push({ frame: f.frame, file: relative(job.outputDir, f.path), sha256: sha256Bytes(bytes), pixelsSha256: pixelsSha256Of(bytes) });
      }
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

function pixelsSha256Of(bytes: Buffer): string | null {
  let text: string | undefined;
  try {
    text = isPng(bytes) ? readTextChunk(bytes, PROVENANCE_KEYWORD) : isExr(bytes) ? readExrText(bytes, PROVENANCE_KEYWORD) : undefined;
  } catch {
    return null;
  }
  if (text === undefined) return null;
  try {
    const sha = (JSON.parse(text) as { manifest?: { pixels?: { sha256?: unknown } } }).manifest?.pixels?.sha256;
    return typeof sha === "string" ? sha : null;
  } catch {
    return null;
  }
}
