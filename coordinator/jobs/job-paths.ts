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

/** Frame file name relative to the job's output dir. */
export function frameFileName(spec: JobSpec, jobId: string, frame: number): string {
  return renderTemplate(spec.output.framePattern, { ...templateVars(jobId, spec), frame, shot: 0 }, "output.framePattern");
}

export function framePathFor(job: JobRow, spec: JobSpec, frame: number): string {
  return join(job.outputDir, frameFileName(spec, job.id, frame));
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
