import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join, relative } from "node:path";
import { BadInputError } from "../../shared/errors.ts";
import { readTextChunk, removeTextChunk } from "../../shared/media/png-text-chunk.ts";
import { pixelsOf } from "../../shared/provenance/pixel-hash.ts";
import { frameManifestSchema, jobManifestSchema, PROVENANCE_KEYWORD, type ExrFrameManifest, type FrameManifest, type JobManifest } from "../../shared/provenance/provenance-manifest.ts";
import { verifyEnvelope } from "../../shared/provenance/provenance-signature.ts";
import type { FrameRow } from "../store/frames-table.ts";
import { JOB_MANIFEST_FILE } from "./job-manifest.ts";
import { checkExrFrame, exrWithoutRecord } from "./verify-exr-frame.ts";
import { checkSignedRecord } from "./signed-record.ts";
import { isExr } from "../../shared/media/exr-header-attribute.ts";
import { sha256Bytes } from "../../shared/model-manifest/model-file-hash.ts";
import { frameTreeFindings, sceneTreeFileFindings, treeListFindings } from "./verify-scene-tree.ts";

/**
 * `nightshift verify`: checks frames against their own signed records, the
 * job folder's signed manifest.json and, when the coordinator's store is at
 * hand, the ledger (frames table). Pure apart from reading the files.
 *  - unsigned: a PNG or EXR without a nightshift record (an EXR's is in its
 *    header: verify-exr-frame.ts);
 *  - altered: a record whose signature, certificate or pixel hash does not
 *    hold, or that the ledger or manifest.json contradicts;
 *  - missing: a frame manifest.json or the ledger lists that is not there;
 *  - extra: a frame file that neither lists, or a second file for one frame.
 * A Blender job's scene tree is checked too (verify-scene-tree.ts), and with
 * `sceneTree` (a folder) the tree's files themselves.
 */

export type FindingKind = "missing" | "extra" | "altered" | "unsigned";

export interface VerifyFinding {
  kind: FindingKind;
  file: string;
  reason: string;
  jobId?: string;
  frame?: number;
}

export interface VerifiedFrame {
  file: string;
  jobId: string;
  frame: number;
  agent: string;
  steps: FrameManifest["steps"];
  pixelsSha256: string;
}

export interface VerifyReport {
  path: string;
  checkedFiles: number;
  verified: VerifiedFrame[];
  findings: VerifyFinding[];
  usedJobManifest: boolean;
  usedLedger: boolean;
}

/** What the ledger knows, by job: injected so this file never opens SQLite. */
export type LedgerFrames = (jobId: string) => FrameRow[] | undefined;

const FRAME_FILE = /\.(png|exr)$/i;


export function verifyPath(path: string, caPem: string, ledger?: LedgerFrames, opts: { sceneTree?: string } = {}): VerifyReport {
  if (!existsSync(path)) throw new BadInputError(`${path}: no such file or folder`, { field: "path" });
  const isDir = statSync(path).isDirectory();
  const root = isDir ? path : dirname(path);
  const files = isDir ? frameFilesUnder(path) : [path];
  const findings: VerifyFinding[] = [];
  const verified: VerifiedFrame[] = [];
  const seen = new Map<string, string>(); // job/frame -> file
  const fileSha256 = new Map<string, string>(); // verified file -> sha256 of its bytes
  for (const file of files) {
    const rel = relative(root, file) || basename(file);
    const bytes = readFileSync(file);
    const result = checkFrame(bytes, caPem);
    if (result.kind !== "ok") {
      findings.push({ kind: result.kind, file: rel, reason: result.reason });
      continue;
    }
    const m = result.manifest;
    const key = `${m.job.id}/${m.frame}`;
    const first = seen.get(key);
    if (first !== undefined) {
      findings.push({ kind: "extra", file: rel, reason: `second file for frame ${m.frame} of job ${m.job.id} (first: ${first})`, jobId: m.job.id, frame: m.frame });
      continue;
    }
    seen.set(key, rel);
    fileSha256.set(rel, sha256Bytes(bytes));
    verified.push({ file: rel, jobId: m.job.id, frame: m.frame, agent: m.agent.name, steps: m.steps, pixelsSha256: m.pixels.sha256 });
  }
  let usedJobManifest = false;
  let job: JobManifest | undefined;
  if (isDir && existsSync(join(path, JOB_MANIFEST_FILE))) {
    usedJobManifest = true;
    job = checkAgainstJobManifest(path, caPem, files.map((f) => relative(path, f)), verified, fileSha256, findings);
  }
  if (opts.sceneTree !== undefined) {
    if (job !== undefined) findings.push(...sceneTreeFileFindings(job, opts.sceneTree));
    else if (!usedJobManifest) findings.push({ kind: "missing", file: JOB_MANIFEST_FILE, reason: "--scene-tree needs the job folder with its manifest.json" });
  }
  let usedLedger = false;
  if (ledger !== undefined) {
    usedLedger = true;
    checkAgainstLedger(root, isDir, ledger, verified, findings);
  }
  const bad = new Set(findings.map((f) => f.file));
  return { path, checkedFiles: files.length, verified: verified.filter((v) => !bad.has(v.file)), findings, usedJobManifest, usedLedger };
}

type FrameCheck = { kind: "ok"; manifest: FrameManifest | ExrFrameManifest } | { kind: "unsigned" | "altered"; reason: string };

/** One frame's bytes against its own signed record. */
export function checkFrame(bytes: Uint8Array, caPem: string): FrameCheck {
  if (isExr(bytes)) return checkExrFrame(bytes, caPem);
  const record = checkSignedRecord(() => readTextChunk(bytes, PROVENANCE_KEYWORD), "PNG", caPem, frameManifestSchema);
  if (record.kind !== "ok") return record;
  const m = record.manifest;
  let pixels: string;
  try {
    pixels = pixelsOf(bytes).sha256;
  } catch {
    return { kind: "altered", reason: "image data cannot be decoded" };
  }
  if (pixels !== m.pixels.sha256) {
    // A pixel hash the agent computed may have been wrong when signed (the coordinator checks a sample of them).
    const whose = m.pixels.by === "agent" ? " (its pixel hash is the agent's: the file was changed, or the agent's hash was wrong)" : "";
    return { kind: "altered", reason: `pixels differ from the signed record${whose}` };
  }
  return { kind: "ok", manifest: m };
}

/** The checks against the folder's manifest.json; returns it when its signature holds. */
function checkAgainstJobManifest(
  dir: string,
  caPem: string,
  present: string[],
  verified: VerifiedFrame[],
  fileSha256: ReadonlyMap<string, string>,
  findings: VerifyFinding[],
): JobManifest | undefined {
  const check = verifyEnvelope(readFileSync(join(dir, JOB_MANIFEST_FILE), "utf8"), caPem);
  const parsed = check.ok ? jobManifestSchema.safeParse(check.envelope.manifest) : undefined;
  if (!check.ok || !parsed?.success) {
    findings.push({ kind: "altered", file: JOB_MANIFEST_FILE, reason: check.ok ? "not a nightshift job manifest" : check.reason });
    return undefined;
  }
  const job: JobManifest = parsed.data;
  findings.push(...treeListFindings(job), ...frameTreeFindings(job, verified));
  const listed = new Map(job.frames.map((f) => [f.file, f]));
  const files = new Set(present);
  for (const f of job.frames) {
    if (!files.has(f.file)) findings.push({ kind: "missing", file: f.file, reason: `listed in ${JOB_MANIFEST_FILE}, not in the folder`, jobId: job.job.id, frame: f.frame });
  }
  const byFile = new Map(verified.map((v) => [v.file, v]));
  for (const file of present) {
    const entry = listed.get(file);
    const v = byFile.get(file);
    if (entry === undefined) {
      if (!findings.some((x) => x.file === file)) findings.push({ kind: "extra", file, reason: `not listed in ${JOB_MANIFEST_FILE}` });
    } else if (v !== undefined && (v.jobId !== job.job.id || v.frame !== entry.frame || (entry.pixelsSha256 !== null && v.pixelsSha256 !== entry.pixelsSha256))) {
      findings.push({ kind: "altered", file, reason: `${JOB_MANIFEST_FILE} lists other pixels for this file`, jobId: v.jobId, frame: v.frame });
    } else if (v !== undefined && fileSha256.get(file) !== entry.sha256) {
      // The manifest's sha256 is of the bytes the sink made durable at the commit: its record and pixels hold, the rest of the file was changed since.
      findings.push({ kind: "altered", file, reason: `its bytes differ from those ${JOB_MANIFEST_FILE} lists (committed); its record and pixels hold`, jobId: v.jobId, frame: v.frame });
    }
  }
  return job;
}

function checkAgainstLedger(root: string, isDir: boolean, ledger: LedgerFrames, verified: VerifiedFrame[], findings: VerifyFinding[]): void {
  const jobs = new Set(verified.map((v) => v.jobId));
  const byJobFrame = new Map(verified.map((v) => [`${v.jobId}/${v.frame}`, v]));
  for (const jobId of jobs) {
    const rows = ledger(jobId);
    if (rows === undefined) {
      for (const v of verified.filter((x) => x.jobId === jobId)) findings.push({ kind: "extra", file: v.file, reason: `job ${jobId} is not in the ledger`, jobId, frame: v.frame });
      continue;
    }
    const rowByFrame = new Map(rows.map((r) => [r.frame, r]));
    for (const v of verified.filter((x) => x.jobId === jobId)) {
      const row = rowByFrame.get(v.frame);
      if (row === undefined) {
        findings.push({ kind: "extra", file: v.file, reason: `frame ${v.frame} is not in the ledger`, jobId, frame: v.frame });
        continue;
      }
      const bytes = readFileSync(join(root, v.file));
      if (sha256Bytes(isExr(bytes) ? exrWithoutRecord(bytes) : removeTextChunk(bytes, PROVENANCE_KEYWORD)) !== row.sha256) {
        findings.push({ kind: "altered", file: v.file, reason: "the ledger records other bytes for this frame", jobId, frame: v.frame });
      }
    }
    if (!isDir) continue;
    for (const row of rows) {
      const file = relative(root, row.path);
      // A file found altered or unsigned is there: not missing as well.
      if (byJobFrame.has(`${jobId}/${row.frame}`) || findings.some((f) => (f.jobId === jobId && f.frame === row.frame) || f.file === file)) continue;
      findings.push({ kind: "missing", file, reason: `frame ${row.frame} is in the ledger, not in the folder`, jobId, frame: row.frame });
    }
  }
}

/** The frame files (PNG and EXR) under `dir`, skipping hidden entries. */
function frameFilesUnder(dir: string, depth = 0): string[] {
  if (depth > 8) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name.startsWith(".")) continue;
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...frameFilesUnder(full, depth + 1));
    else if (entry.isFile() && FRAME_FILE.test(entry.name)) out.push(full);
  }
  return out;
}
