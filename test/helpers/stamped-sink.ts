/**
 * Why this file exists: the provenance tests need the sink (sink-fixture.ts
 * setupSink) with the coordinator's FrameStamper, signed with a key of a
 * fresh studio CA; each wrote the same few lines out. Here once.
 */
import { join } from "node:path";
import type { TestContext } from "node:test";
import { FrameStamper } from "../../coordinator/provenance/frame-stamper.ts";
import type { PixelClaimSampler } from "../../coordinator/provenance/pixel-claims.ts";
import { openProvenanceSigner } from "../../coordinator/provenance/provenance-key.ts";
import { JobSpecs } from "../../coordinator/jobs/job-specs.ts";
import { StudioCa } from "../../coordinator/trust/studio-ca.ts";
import { setupSink } from "./sink-fixture.ts";
import { tempDir } from "./temp-dir.ts";
import { testLog } from "./test-log.ts";

/**
 * The sink (frames up to 1 MiB) with a FrameStamper, or without one when `stamped` is false; `signer` and `caPem`
 * are the key's and its CA's (verify checks against `caPem`); `stamper()` is the sink's, once it made one. The keys' dir is removed and the stamper closed when the
 * test ends.
 */
export async function stampedSink(t: TestContext, o: { claims?: PixelClaimSampler; stamped?: boolean } = {}) {
  const keys = tempDir(t, "ns-stamp-");
  const ca = await StudioCa.open(join(keys, "ca"));
  const signer = await openProvenanceSigner(keys, ca);
  let stamper: FrameStamper | undefined;
  t.after(() => stamper?.close());
  const s = setupSink(t, {
    maxFrameBytes: 1 << 20,
    ...(o.stamped === false ? {} : { stamper: (store) => (stamper = new FrameStamper(store, new JobSpecs(), signer, Date.now, testLog(), undefined, o.claims)) }),
  });
  return { ...s, stamper: () => stamper!, signer, caPem: ca.certPem };
}
