import type { Clock } from "../../shared/clock.ts";
import type { Logger } from "../../shared/log.ts";
import type { JobSpecs } from "../jobs/job-specs.ts";
import type { Store } from "../store/store.ts";
import type { StudioCa } from "../trust/studio-ca.ts";
import { FrameStamper } from "./frame-stamper.ts";
import { JobManifestWriter } from "./job-manifest.ts";
import { PixelHasher } from "./pixel-hasher.ts";
import { openProvenanceSigner } from "./provenance-key.ts";

/** The coordinator's provenance parts, built once at start: the frame stamper for the sink, the job manifest for the finisher. */
export async function openProvenance(dataDir: string, ca: StudioCa, store: Store, specs: JobSpecs, clock: Clock, log: Logger): Promise<{ stamper: FrameStamper; jobs: JobManifestWriter }> {
  const signer = await openProvenanceSigner(dataDir, ca);
  // The pixel hash thread starts now, off the first job's path; nothing waits for it (a hash before it is
  // ready queues behind its start, as it did when the thread started on the first hash).
  const hasher = new PixelHasher(log);
  void hasher.start();
  return { stamper: new FrameStamper(store, specs, signer, clock, log, hasher), jobs: new JobManifestWriter(store, specs, signer, clock, log) };
}
