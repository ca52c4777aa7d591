import { BadInputError } from "../errors.ts";
import { MAX_JOB_FRAMES } from "./job-spec-limits.ts";
import type { FrameRange, JobSpec } from "./job-spec-types.ts";

/**
 * Checks the spec's frame range against the real input, once its frame count
 * is known (probed video, counted image sequence), and returns the range to
 * render: the spec's, or all input frames when the spec gave none.
 */
export function checkAgainstInput(spec: Pick<JobSpec, "frames">, inputFrameCount: number): FrameRange {
  if (!Number.isSafeInteger(inputFrameCount) || inputFrameCount < 1) {
    throw new BadInputError(`input: has no frames (counted ${inputFrameCount})`, { field: "input" });
  }
  const last = inputFrameCount - 1;
  if (spec.frames === null) {
    if (inputFrameCount > MAX_JOB_FRAMES) {
      throw new BadInputError(
        `frames: the input has ${inputFrameCount} frames, more than the ${MAX_JOB_FRAMES} one job may have; give a frames range`,
        { field: "frames" },
      );
    }
    return { start: 0, end: last };
  }
  const { start, end } = spec.frames;
  if (start > last) {
    throw new BadInputError(`frames.start: ${start} is past the last input frame ${last}`, { field: "frames.start" });
  }
  if (end > last) {
    throw new BadInputError(`frames.end: ${end} is past the last input frame ${last}`, { field: "frames.end" });
  }
  return { start, end };
}
