import { join } from "node:path";

/** Staged frames of an attempt live under the output root, on the same filesystem as their final place. */
export const STAGING_DIR = ".nightshift-staging";

export function stagingDirFor(outputRoot: string, attemptId: string): string {
  return join(outputRoot, STAGING_DIR, attemptId);
}

export function stagedFrameName(index: number): string {
  return `${String(index).padStart(9, "0")}.frame`;
}
