import type { Clock } from "../../shared/clock.ts";
import type { Logger } from "../../shared/log.ts";
import type { JobSpecs } from "../jobs/job-specs.ts";
import type { Store } from "../store/store.ts";
import type { StudioCa } from "../trust/studio-ca.ts";
import { FrameStamper } from "./frame-stamper.ts";
import { JobManifestWriter } from "./job-manifest.ts";
import { openProvenanceSigner } from "./provenance-key.ts";

/** The coordinator's provenance parts, built once at start: the frame stamper for the sink, the job manifest for the finisher. */
export async function openProvenance(dataDir: string, ca: StudioCa, store: Store, specs: JobSpecs, clock: Clock, log: Logger): Promise<{ stamper: FrameStamper; jobs: JobManifestWriter }> {
  const signer = await openProvenanceSigner(dataDir, ca);
  return { stamper: new FrameStamper(store, specs, signer, clock, log), jobs: new JobManifestWriter(store, specs, signer, clock, log) };
}
