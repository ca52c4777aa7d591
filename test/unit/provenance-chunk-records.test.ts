import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { openProvenanceSigner } from "../../coordinator/provenance/provenance-key.ts";
import { checkFrame } from "../../coordinator/provenance/verify-frames.ts";
import { StudioCa } from "../../coordinator/trust/studio-ca.ts";
import { generateFrame } from "../../shared/media/generated-frames.ts";
import { encodePng } from "../../shared/media/png-codec.ts";
import { readTextChunk, withTextChunk } from "../../shared/media/png-text-chunk.ts";
import { canonicalJson } from "../../shared/provenance/canonical-json.ts";
import { signChunkRecords } from "../../shared/provenance/chunk-records.ts";
import { inclusionPath, leafHash, rootFromPath, rootOf, treeLevels } from "../../shared/provenance/merkle-tree.ts";
import { pixelsOf } from "../../shared/provenance/pixel-hash.ts";
import {
  CHUNK_STATEMENT_FORMAT, FRAME_MANIFEST_FORMAT, FRAME_MANIFEST_FORMAT_V1, PROVENANCE_KEYWORD, SIGNATURE_ALG, type FrameManifest,
} from "../../shared/provenance/provenance-manifest.ts";
import { certificateBase64, provenanceSigner, signManifest, signText, type ProvenanceSigner } from "../../shared/provenance/provenance-signature.ts";
import { generateEcKeyPair, privateKeyToPem, publicKeyToPem } from "../../shared/tls/pem-keys.ts";
import { tempDir } from "../helpers/temp-dir.ts";

/**
 * nightshift-frame/2: one signature per chunk over a hash tree of its frame
 * records, each frame carrying its inclusion path, so a file verifies alone
 * with the studio CA; and /1 records (one signature per frame) still verify.
 */

const sha = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

test("the hash tree: every leaf's path leads to the root for 1-17 leaves, and a wrong index, count, path or leaf does not", () => {
  for (let n = 1; n <= 17; n++) {
    const leaves = Array.from({ length: n }, (_, i) => leafHash(`frame ${i}`));
    const levels = treeLevels(leaves);
    const root = rootOf(levels);
    for (let i = 0; i < n; i++) {
      const path = inclusionPath(levels, i);
      assert.ok(path.length <= Math.ceil(Math.log2(n)), `n=${n} i=${i}: at most log2(n) hashes`);
      assert.deepEqual(rootFromPath(leaves[i]!, i, n, path), root, `n=${n} i=${i}`);
      assert.notDeepEqual(rootFromPath(leafHash(`frame ${i}!`), i, n, path) ?? Buffer.alloc(0), root, "another leaf");
      if (n > 1) {
        assert.notDeepEqual(rootFromPath(leaves[i]!, (i + 1) % n, n, path) ?? Buffer.alloc(0), root, "another index");
        assert.equal(rootFromPath(leaves[i]!, i, n, [...path, root]), undefined, "a path too long for the shape");
      }
    }
    assert.equal(rootFromPath(leaves[0]!, n, n, []), undefined, "an index past the count");
  }
  // A node is never taken for a leaf: the two-leaf root is not the leaf hash of the two leaves' bytes.
  const [a, b] = [leafHash("a"), leafHash("b")];
  assert.notDeepEqual(rootOf(treeLevels([a, b])), leafHash(Buffer.concat([a, b])));
});

async function keys(t: TestContext): Promise<{ signer: ProvenanceSigner; ca: StudioCa; dir: string }> {
  const dir = tempDir(t, "ns-chunk-records-");
  const ca = await StudioCa.open(join(dir, "ca"));
  return { signer: await openProvenanceSigner(dir, ca), ca, dir };
}

/** A chunk of `n` frames as the coordinator commits them: PNGs and their manifests. */
function chunkOf(chunkId: string, n: number, format: FrameManifest["format"] = FRAME_MANIFEST_FORMAT) {
  const signedAt = new Date().toISOString();
  const shared = {
    format, job: { id: "job_1", name: "demo" }, chunk: { id: chunkId, frameStart: 0, frameEnd: n - 1 }, attempt: `att_${chunkId}`,
    steps: [{ id: "grade", kind: "model", hashes: { model: "ab".repeat(32) } }], seed: 7, agent: { id: "agt_1", name: "gpu-1", gpu: "none (CPU)" },
    software: { nightshift: "test", onnxruntime: "1.30.0" }, renderSeconds: 0.25, energy: { joules: 1.5, source: "estimate", share: `chunk total / ${n} frames` }, signedAt,
  };
  const pngs = Array.from({ length: n }, (_, i) => encodePng(generateFrame(i, 16, 8, chunkId.length)));
  const manifests: FrameManifest[] = pngs.map((png, i) => ({ ...shared, frame: i, pixels: { ...pixelsOf(png), by: "coordinator" }, png: { sha256: sha(png) } }));
  return { pngs, manifests };
}

const stamp = (png: Uint8Array, record: string): Buffer => withTextChunk(png, PROVENANCE_KEYWORD, record);
const reason = (c: ReturnType<typeof checkFrame>): string => (c.kind === "ok" ? "" : c.reason);

test("a chunk is signed once: every frame's record verifies alone with the CA, carries its path, and the records share one signature", async (t) => {
  const { signer, ca } = await keys(t);
  const { pngs, manifests } = chunkOf("job_1.c00000", 5);
  const records = signChunkRecords(manifests, signer);
  assert.equal(records.length, 5);
  const parsed = records.map((r) => JSON.parse(r) as { manifest: FrameManifest; proof: { leaf: number; path: string[] }; statement: Record<string, unknown>; signature: { value: string; certificate: string } });
  assert.equal(new Set(parsed.map((p) => p.signature.value)).size, 1, "one signature");
  assert.equal(parsed[0]!.signature.certificate, certificateBase64(signer.certPem), "the certificate as base64 DER");
  assert.equal(parsed[0]!.statement.frames, 5);
  assert.equal(parsed[0]!.statement.format, CHUNK_STATEMENT_FORMAT);
  for (const [i, p] of parsed.entries()) {
    assert.deepEqual(p.manifest, manifests[i], "the record holds the frame's own manifest");
    assert.equal(p.proof.leaf, i);
    assert.ok(p.proof.path.length <= 3);
    const check = checkFrame(stamp(pngs[i]!, records[i]!), ca.certPem);
    assert.equal(check.kind, "ok", reason(check));
    assert.equal(check.kind === "ok" ? check.manifest.frame : -1, i);
  }
  assert.throws(() => signChunkRecords([manifests[0]!, { ...manifests[1]!, attempt: "att_other" }], signer), /must share/);
});

test("altered frame, altered manifest, a proof from another chunk, a swapped record, an altered statement: all altered", async (t) => {
  const { signer, ca } = await keys(t);
  const a = chunkOf("job_1.c00000", 4);
  const b = chunkOf("job_1.c00004", 4);
  const ra = signChunkRecords(a.manifests, signer);
  const rb = signChunkRecords(b.manifests, signer);
  const altered = (png: Uint8Array, record: string, why: RegExp, what: string) => {
    const c = checkFrame(stamp(png, record), ca.certPem);
    assert.equal(c.kind, "altered", what);
    assert.match(reason(c), why, what);
  };
  const edit = (record: string, f: (r: Record<string, any>) => void): string => {
    const r = JSON.parse(record) as Record<string, any>;
    f(r);
    return JSON.stringify(r);
  };

  // The pixels changed after signing.
  const changed = encodePng(generateFrame(1, 16, 8, 99));
  altered(changed, ra[1]!, /pixels differ/, "altered frame");
  // A manifest field changed: its leaf no longer leads to the signed root.
  altered(a.pngs[1]!, edit(ra[1]!, (r) => (r.manifest.seed = 8)), /not among the chunk's signed records/, "altered manifest");
  altered(a.pngs[1]!, edit(ra[1]!, (r) => (r.manifest.energy.joules = 0)), /not among the chunk's signed records/, "altered accounting");
  // Chunk B's statement, signature and path put under frame 1 of chunk A.
  altered(a.pngs[1]!, edit(ra[1]!, (r) => Object.assign(r, { proof: JSON.parse(rb[1]!).proof, statement: JSON.parse(rb[1]!).statement, signature: JSON.parse(rb[1]!).signature })), /not among the chunk's signed records/, "proof for another chunk");
  // Another frame's path within the same chunk.
  altered(a.pngs[1]!, edit(ra[1]!, (r) => (r.proof = JSON.parse(ra[2]!).proof)), /not among the chunk's signed records/, "another leaf's path");
  // Frame 2's (valid) record in frame 1's file.
  altered(a.pngs[1]!, ra[2]!, /pixels differ/, "swapped record");
  // The signed statement changed: its signature no longer holds.
  altered(a.pngs[1]!, edit(ra[1]!, (r) => (r.statement.frames = 8)), /statement altered/, "altered statement");
  altered(a.pngs[1]!, edit(ra[1]!, (r) => (r.statement.root = "00".repeat(32))), /statement altered/, "another root");
  altered(a.pngs[1]!, edit(ra[1]!, (r) => delete r.proof), /provenance record: proof/, "no path");
});

test("a statement signed over another chunk's name does not vouch for a manifest that names this one", async (t) => {
  const { signer, ca } = await keys(t);
  const { pngs, manifests } = chunkOf("job_1.c00000", 1);
  const m = manifests[0]!;
  const statement = { format: CHUNK_STATEMENT_FORMAT, job: m.job.id, chunk: "job_1.c99999", attempt: m.attempt, frames: 1, root: leafHash(canonicalJson(m)).toString("hex"), signedAt: m.signedAt };
  const record = JSON.stringify({ manifest: m, proof: { leaf: 0, path: [] }, statement, signature: { alg: SIGNATURE_ALG, value: signText(canonicalJson(statement), signer), certificate: certificateBase64(signer.certPem) } });
  const c = checkFrame(stamp(pngs[0]!, record), ca.certPem);
  assert.equal(c.kind, "altered");
  assert.match(reason(c), /different jobs, chunks/);
});

test("a chunk signed with a certificate that does not chain to the CA, or an agent's certificate from the same CA, is altered", async (t) => {
  const { signer, ca } = await keys(t);
  const other = await keys(t);
  const { pngs, manifests } = chunkOf("job_1.c00000", 3);
  const foreign = signChunkRecords(manifests, other.signer);
  const c = checkFrame(stamp(pngs[0]!, foreign[0]!), ca.certPem);
  assert.equal(c.kind, "altered");
  assert.match(reason(c), /not issued by this studio CA/);

  const agentKeys = await generateEcKeyPair();
  const agentCert = await ca.issueAgentCertificate("agt-0123456789abcdef0123", publicKeyToPem(agentKeys.publicKey));
  const forged = signChunkRecords(manifests, provenanceSigner(privateKeyToPem(agentKeys.privateKey), agentCert));
  const f = checkFrame(stamp(pngs[0]!, forged[0]!), ca.certPem);
  assert.equal(f.kind, "altered");
  assert.match(reason(f), /not a provenance signing certificate/);

  const garbage = JSON.stringify({ ...JSON.parse(signChunkRecords(manifests, signer)[0]!), signature: { alg: SIGNATURE_ALG, value: "AA==", certificate: "not a certificate" } });
  assert.match(reason(checkFrame(stamp(pngs[0]!, garbage), ca.certPem)), /not a certificate/);
});

test("nightshift-frame/1 records (one signature per frame, PEM certificate) still verify; a /2 manifest in a /1 envelope does not", async (t) => {
  const { signer, ca } = await keys(t);
  const { pngs, manifests } = chunkOf("job_1.c00000", 2, FRAME_MANIFEST_FORMAT_V1);
  const old = stamp(pngs[0]!, JSON.stringify(signManifest(manifests[0]!, signer)));
  const ok = checkFrame(old, ca.certPem);
  assert.equal(ok.kind, "ok", reason(ok));
  assert.equal(JSON.parse(readTextChunk(old, PROVENANCE_KEYWORD)!).signature.certificate, signer.certPem);
  assert.equal(checkFrame(stamp(pngs[1]!, JSON.stringify(signManifest(manifests[0]!, signer))), ca.certPem).kind, "altered", "a /1 record in another frame's file");
  const v2InV1 = stamp(pngs[0]!, JSON.stringify(signManifest({ ...manifests[0]!, format: FRAME_MANIFEST_FORMAT }, signer)));
  assert.match(reason(checkFrame(v2InV1, ca.certPem)), /nightshift-frame\/2 manifest in a nightshift-frame\/1 record/);
});
