import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { openProvenanceSigner } from "../../coordinator/provenance/provenance-key.ts";
import { provenanceSteps } from "../../coordinator/provenance/provenance-steps.ts";
import { verifyPath } from "../../coordinator/provenance/verify-frames.ts";
import { StudioCa } from "../../coordinator/trust/studio-ca.ts";
import { encodePng } from "../../shared/media/png-codec.ts";
import { withTextChunk } from "../../shared/media/png-text-chunk.ts";
import { canonicalJson } from "../../shared/provenance/canonical-json.ts";
import { pixelsOf } from "../../shared/provenance/pixel-hash.ts";
import { FRAME_MANIFEST_FORMAT, JOB_MANIFEST_FORMAT, PROVENANCE_KEYWORD, type FrameManifest, type JobManifest, type ProvenanceStep } from "../../shared/provenance/provenance-manifest.ts";
import { signChunkRecords } from "../../shared/provenance/chunk-records.ts";
import { signManifest, type ProvenanceSigner } from "../../shared/provenance/provenance-signature.ts";
import { sceneTreeSha256, sortTree } from "../../shared/provenance/scene-tree-hash.ts";
import type { WorkStep } from "../../shared/steps/work-step.ts";
import { tempDir } from "../helpers/temp-dir.ts";

const sha = (b: string | Uint8Array): string => createHash("sha256").update(b).digest("hex");

// The files of a small scene tree, with their real bytes (the --scene-tree check hashes them).
const bytes: Record<string, string> = { "shot/scene.blend": "BLENDER-v304 scene", "tex/wood.png": "wood pixels", "libs/chair.blend": "linked chair" };
const tree = Object.entries(bytes).map(([path, b]) => ({ path, sha256: sha(b), size: Buffer.byteLength(b) }));
const blender = (files = tree): WorkStep => ({ id: "render", kind: "blender", scene: "shot/scene.blend", sceneSha256: sha(bytes["shot/scene.blend"]!), tree: files }) as unknown as WorkStep;

test("the tree hash is sha256 of the canonical JSON of the (path, sha256, size) triples sorted by path", () => {
  const sorted = [...tree].sort((a, b) => (a.path < b.path ? -1 : 1));
  const expected = sha(JSON.stringify(sorted.map((f) => [f.path, f.sha256, f.size])));
  assert.equal(sceneTreeSha256(tree), expected);
  // A fixed vector, computed outside the project: printf '%s' '<the JSON below>' | sha256sum.
  const vector = [
    { path: "tex/wood \"1\".png", sha256: "b".repeat(64), size: 2048 },
    { path: "scene.blend", sha256: "a".repeat(64), size: 1024 },
  ];
  // [["scene.blend","aaa…",1024],["tex/wood \"1\".png","bbb…",2048]]
  assert.equal(sceneTreeSha256(vector), "582fa33e746e5baa1c7bc8e1ad21a6975d173bf2af9c2f572f76e64575e21a19");
  assert.equal(canonicalJson(vector.map((f) => [f.path, f.sha256, f.size]).reverse()), JSON.stringify(vector.map((f) => [f.path, f.sha256, f.size]).reverse()), "canonical JSON of triples is JSON.stringify's");
  assert.equal(sceneTreeSha256([...tree].reverse()), expected, "the order sent does not matter");
  for (const change of [{ path: "tex/oak.png" }, { sha256: sha("other") }, { size: 999 }]) {
    assert.notEqual(sceneTreeSha256(tree.map((f, i) => (i === 1 ? { ...f, ...change } : f))), expected, JSON.stringify(change));
  }
  assert.notEqual(sceneTreeSha256(tree.slice(1)), expected, "a file less, another tree");
  // UTF-8 byte order, not UTF-16: U+FF21 (EF BC A1) sorts before U+1F600 (F0 9F 98 80).
  assert.deepEqual(sortTree([{ path: "\u{1F600}", sha256: "", size: 0 }, { path: "\uFF21", sha256: "", size: 0 }]).map((f) => f.path), ["\uFF21", "\u{1F600}"]);
});

test("a Blender step with an uploaded tree names the tree and its file count; the job's manifest lists the files", () => {
  const [frame] = provenanceSteps([blender()]);
  assert.deepEqual(frame, { id: "render", kind: "blender", hashes: { scene: sha(bytes["shot/scene.blend"]!), tree: sceneTreeSha256(tree) }, tree: { files: 3 } });
  const [job] = provenanceSteps([blender()], { treeList: true });
  assert.deepEqual(job?.tree?.list, sortTree(tree));
  const [shared] = provenanceSteps([{ id: "render", kind: "blender", scene: "a.blend", sceneSha256: sha("x") } as unknown as WorkStep], { treeList: true });
  assert.deepEqual(shared, { id: "render", kind: "blender", hashes: { scene: sha("x") } }, "a scene on the shared root has no tree");
});

async function signerFor(t: TestContext): Promise<{ signer: ProvenanceSigner; caPem: string; dir: string }> {
  const dir = tempDir(t, "ns-tree-verify-");
  const ca = await StudioCa.open(join(dir, "ca"));
  return { signer: await openProvenanceSigner(dir, ca), caPem: ca.certPem, dir };
}

/** A job folder as the coordinator writes it: one signed PNG frame and a signed manifest.json. */
function writeJobFolder(dir: string, signer: ProvenanceSigner, frameSteps: ProvenanceStep[], jobSteps: ProvenanceStep[]): string {
  const folder = join(dir, "job");
  mkdirSync(folder);
  const png = encodePng({ width: 2, height: 2, data: new Uint8Array(12).fill(90) });
  const frame: FrameManifest = {
    format: FRAME_MANIFEST_FORMAT, job: { id: "job_1", name: "sh010" }, chunk: { id: "job_1.c00000", frameStart: 1, frameEnd: 1 }, attempt: "att_1", frame: 1,
    steps: frameSteps, seed: 0, agent: { id: "agt_1", name: "gpu-1", gpu: "none (CPU)" }, software: { nightshift: "test" }, renderSeconds: 1,
    energy: { joules: 0, source: "none", share: "chunk total / 1 frames" }, pixels: pixelsOf(png), png: { sha256: sha(png) }, signedAt: new Date().toISOString(),
  };
  const file = withTextChunk(png, PROVENANCE_KEYWORD, signChunkRecords([frame], signer)[0]!);
  writeFileSync(join(folder, "frame_0001.png"), file);
  const job: JobManifest = {
    format: JOB_MANIFEST_FORMAT, job: { id: "job_1", name: "sh010", state: "done" }, steps: jobSteps, seed: 0,
    frames: [{ frame: 1, file: "frame_0001.png", sha256: sha(file), pixelsSha256: frame.pixels.sha256 }], signedAt: new Date().toISOString(),
  };
  writeFileSync(join(folder, "manifest.json"), JSON.stringify(signManifest(job, signer)));
  return folder;
}

function writeTree(dir: string, files: Record<string, string>): string {
  const root = join(dir, "project");
  for (const [path, b] of Object.entries(files)) {
    mkdirSync(join(root, path, ".."), { recursive: true });
    writeFileSync(join(root, path), b);
  }
  return root;
}

test("verify checks each tree file's hash against manifest.json with --scene-tree, and a frame against the listed tree", async (t) => {
  const { signer, caPem, dir } = await signerFor(t);
  const folder = writeJobFolder(dir, signer, provenanceSteps([blender()]), provenanceSteps([blender()], { treeList: true }));
  const good = verifyPath(folder, caPem);
  assert.deepEqual(good.findings, []);
  assert.equal(good.verified[0]?.steps[0]?.hashes.tree, sceneTreeSha256(tree));

  const intact = writeTree(join(dir, "a"), bytes);
  assert.deepEqual(verifyPath(folder, caPem, undefined, { sceneTree: intact }).findings, []);

  const changed = writeTree(join(dir, "b"), { ...bytes, "tex/wood.png": "WOOD pixels" });
  const report = verifyPath(folder, caPem, undefined, { sceneTree: changed });
  assert.deepEqual(report.findings.map((f) => [f.kind, f.file]), [["altered", join(changed, "tex/wood.png")]]);

  const partial = writeTree(join(dir, "c"), { "shot/scene.blend": bytes["shot/scene.blend"]!, "tex/wood.png": bytes["tex/wood.png"]! });
  assert.deepEqual(verifyPath(folder, caPem, undefined, { sceneTree: partial }).findings.map((f) => [f.kind, f.file]), [["missing", join(partial, "libs/chair.blend")]]);
});

test("a frame naming another tree than manifest.json is altered; a signed list that does not hash to its tree is altered", async (t) => {
  const { signer, caPem, dir } = await signerFor(t);
  const otherTree = tree.map((f) => (f.path === "tex/wood.png" ? { ...f, sha256: sha("older wood") } : f));
  const mixed = writeJobFolder(join(dir), signer, provenanceSteps([blender(otherTree)]), provenanceSteps([blender()], { treeList: true }));
  assert.deepEqual(verifyPath(mixed, caPem).findings.map((f) => [f.kind, f.file]), [["altered", "frame_0001.png"]]);

  const [listed] = provenanceSteps([blender()], { treeList: true });
  const lying: ProvenanceStep = { ...listed!, tree: { files: 3, list: sortTree(otherTree) } };
  const d2 = join(dir, "second");
  mkdirSync(d2);
  const folder = writeJobFolder(d2, signer, provenanceSteps([blender()]), [lying]);
  assert.deepEqual(verifyPath(folder, caPem).findings.map((f) => [f.kind, f.file]), [["altered", "manifest.json"]]);
});

test("manifests written before trees were named still verify; --scene-tree on them says there is no tree", async (t) => {
  const { signer, caPem, dir } = await signerFor(t);
  const old: ProvenanceStep[] = [{ id: "render", kind: "blender", hashes: { scene: sha(bytes["shot/scene.blend"]!) } }];
  const folder = writeJobFolder(dir, signer, old, old);
  assert.deepEqual(verifyPath(folder, caPem).findings, []);
  const findings = verifyPath(folder, caPem, undefined, { sceneTree: writeTree(dir, bytes) }).findings;
  assert.deepEqual(findings.map((f) => [f.kind, f.file]), [["missing", "manifest.json"]]);
  assert.match(findings[0]?.reason ?? "", /lists no scene tree/);
});
