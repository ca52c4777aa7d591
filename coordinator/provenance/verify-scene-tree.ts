import { createHash } from "node:crypto";
import { closeSync, openSync, readSync, statSync } from "node:fs";
import { join } from "node:path";
import { treePathProblem } from "../../shared/assets/scene-tree.ts";
import type { JobManifest } from "../../shared/provenance/provenance-manifest.ts";
import { sceneTreeSha256 } from "../../shared/provenance/scene-tree-hash.ts";
import type { VerifiedFrame, VerifyFinding } from "./verify-frames.ts";

/**
 * `nightshift verify`'s checks of Blender scene trees (a scene uploaded with
 * the files it references): the list in the job's manifest.json must hash to
 * the tree hash it names, every frame must name the same tree as
 * manifest.json, and with `--scene-tree DIR` every listed file must be in DIR
 * with the listed sha256 and size (files in DIR that the list does not name
 * are not reported: a project folder holds more than one shot's files).
 */

const MANIFEST = "manifest.json";

/** A listed tree that does not hash to the hash or count manifest.json names for it. */
export function treeListFindings(job: JobManifest): VerifyFinding[] {
  const out: VerifyFinding[] = [];
  for (const step of job.steps) {
    const list = step.tree?.list;
    if (list === undefined) continue;
    if (sceneTreeSha256(list) !== step.hashes.tree || list.length !== step.tree?.files) {
      out.push({ kind: "altered", file: MANIFEST, reason: `the scene tree listed for step '${step.id}' does not hash to the tree it names`, jobId: job.job.id });
    }
  }
  return out;
}

/** A frame whose record names another tree than manifest.json for the same step. */
export function frameTreeFindings(job: JobManifest, frames: readonly VerifiedFrame[]): VerifyFinding[] {
  const trees = new Map(job.steps.filter((s) => s.hashes.tree !== undefined).map((s) => [s.id, s.hashes.tree]));
  const out: VerifyFinding[] = [];
  for (const v of frames) {
    if (v.jobId !== job.job.id) continue;
    for (const s of v.steps) {
      const expected = trees.get(s.id);
      if (s.hashes.tree !== expected && (expected !== undefined || s.hashes.tree !== undefined)) {
        out.push({ kind: "altered", file: v.file, reason: `names another scene tree for step '${s.id}' than ${MANIFEST}`, jobId: v.jobId, frame: v.frame });
      }
    }
  }
  return out;
}

/** Every file manifest.json lists for the job's scene trees, checked in `dir` (paths reported as `<dir>/<path>`). */
export function sceneTreeFileFindings(job: JobManifest, dir: string): VerifyFinding[] {
  const out: VerifyFinding[] = [];
  const lists = job.steps.flatMap((s) => (s.tree?.list ?? []).map((f) => ({ step: s.id, ...f })));
  if (lists.length === 0) {
    out.push({ kind: "missing", file: MANIFEST, reason: "--scene-tree: the job's manifest.json lists no scene tree (not a Blender job with an uploaded scene, or written before trees were listed)", jobId: job.job.id });
  }
  for (const f of lists) {
    const shown = join(dir, f.path);
    const bad = treePathProblem(f.path);
    if (bad !== undefined) {
      out.push({ kind: "altered", file: MANIFEST, reason: `scene tree path refused: ${bad}`, jobId: job.job.id });
      continue;
    }
    let size: number;
    try {
      const s = statSync(shown);
      if (!s.isFile()) throw new Error("not a file");
      size = s.size;
    } catch {
      out.push({ kind: "missing", file: shown, reason: `listed in the scene tree of step '${f.step}', not in ${dir}`, jobId: job.job.id });
      continue;
    }
    if (size !== f.size || fileSha256(shown) !== f.sha256) {
      out.push({ kind: "altered", file: shown, reason: `its bytes are not the ones the scene tree of step '${f.step}' lists (sha256 ${f.sha256.slice(0, 12)}…, ${f.size} bytes)`, jobId: job.job.id });
    }
  }
  return out;
}

/** sha256 of a file read in 1 MiB parts (scene caches can be gigabytes). */
function fileSha256(path: string): string {
  const hash = createHash("sha256");
  const buf = Buffer.allocUnsafe(1024 * 1024);
  const fd = openSync(path, "r");
  try {
    for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) hash.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return hash.digest("hex");
}
