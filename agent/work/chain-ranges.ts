import type { WorkStep } from "../../shared/steps/work-step.ts";

export interface FrameSpan {
  first: number;
  last: number;
}

/** Frames a temporal step reads on each side of the frame it makes. */
export function halfWindow(step: WorkStep): number {
  return step.kind === "model" && step.window !== null ? Math.floor(step.window / 2) : 0;
}

/**
 * The frames each step of a chain must make so that the last step can make
 * the chunk's frames: a temporal step needs its window of the previous step's
 * frames, so every step before it makes more, never beyond the chunk's
 * context range (the planner clipped that at shot cuts and the job's range).
 */
export function chainSpans(steps: readonly WorkStep[], out: FrameSpan, context: FrameSpan): FrameSpan[] {
  const spans: FrameSpan[] = new Array<FrameSpan>(steps.length);
  let need = out;
  for (let k = steps.length - 1; k >= 0; k--) {
    spans[k] = need;
    const h = halfWindow(steps[k] as WorkStep);
    need = { first: Math.max(context.first, need.first - h), last: Math.min(context.last, need.last + h) };
  }
  return spans;
}

export function spanFrames(span: FrameSpan): number[] {
  const frames: number[] = [];
  for (let i = span.first; i <= span.last; i++) frames.push(i);
  return frames;
}
