import { join } from "node:path";
import type { JobSpec } from "../../shared/job-spec/index.ts";
import { renderTemplate, resolveUnderRoot } from "../../shared/safe-path.ts";
import type { JobRow } from "../store/jobs-table.ts";

export function templateVars(jobId: string, spec: Pick<JobSpec, "name">): Record<string, string> {
  return { job: jobId, name: spec.name };
}

/** The job's output directory under the root; refuses escapes (lexical or through symlinks). */
export function resolveJobOutputDir(outputRoot: string, jobId: string, spec: JobSpec): string {
  const rel = renderTemplate(spec.output.path, templateVars(jobId, spec), "output.path");
  return resolveUnderRoot(outputRoot, rel === "" ? "." : rel, "output.path");
}

/** Where a shot of the job's range starts, and its number in the edit (0 = the shot list's first shot). */
export interface ShotStart {
  start: number;
  shot: number;
}

/** The number of the shot a frame belongs to: the last shot starting at or before it; 0 without shots. */
export function shotOf(shots: readonly ShotStart[], frame: number): number {
  let lo = 0;
  let hi = shots.length - 1;
  let found = 0;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const s = shots[mid] as ShotStart;
    if (s.start <= frame) {
      found = s.shot;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

/** Frame file name relative to the job's output dir. */
export function frameFileName(spec: JobSpec, jobId: string, frame: number, shot = 0): string {
  return renderTemplate(spec.output.framePattern, { ...templateVars(jobId, spec), frame, shot }, "output.framePattern");
}

const shotsByJob = new Map<string, ShotStart[]>();
function jobShots(job: Pick<JobRow, "id" | "shotsJson">): ShotStart[] {
  let s = shotsByJob.get(job.id);
  if (!s) {
    if (shotsByJob.size > 1000) shotsByJob.clear();
    s = JSON.parse(job.shotsJson || "[]") as ShotStart[];
    shotsByJob.set(job.id, s);
  }
  return s;
}

export function framePathFor(job: Pick<JobRow, "id" | "outputDir" | "shotsJson">, spec: JobSpec, frame: number): string {
  return join(job.outputDir, frameFileName(spec, job.id, frame, shotOf(jobShots(job), frame)));
}

export function videoPathFor(job: JobRow, spec: JobSpec): string {
  return join(job.outputDir, renderTemplate(spec.output.video, templateVars(job.id, spec), "output.video"));
}

/** The ffmpeg image2 pattern for the frame files, e.g. frame_%06d.png. */
export function ffmpegPattern(spec: JobSpec, jobId: string): string {
  const marker = 987654321;
  const sample = frameFileName(spec, jobId, marker);
  const i = sample.indexOf(String(marker));
  if (i < 0) return sample;
  const width = spec.output.framePattern.match(/\{frame:0(\d+)\}/)?.[1];
  const spec2 = width ? `%0${width}d` : "%d";
  return sample.slice(0, i).replace(/%/g, "%%") + spec2 + sample.slice(i + String(marker).length).replace(/%/g, "%%");
}
