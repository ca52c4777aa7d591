import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { JOB_MANIFEST_FILE } from "../../coordinator/provenance/job-manifest.ts";
import { removeTextChunk } from "../../shared/media/png-text-chunk.ts";
import { PROVENANCE_KEYWORD } from "../../shared/provenance/provenance-manifest.ts";
import { join } from "node:path";

export interface OutputCheck {
  expected: number;
  present: number;
  missing: number[];
  corrupt: number[];
  unexpected: string[];
  stagingLeftovers: number;
}

/**
 * Compares a job's output dir with the expected frames (frame_%06d.png) and
 * their sha256. A frame file can exist at most once by construction of its
 * name, so "duplicates" are extra files that are not expected frames.
 */
export function checkOutput(outputRoot: string, jobDir: string, expectedShas: readonly string[], first = 0): OutputCheck {
  const names = existsSync(jobDir) ? readdirSync(jobDir).filter((f) => !f.endsWith(".mp4") && f !== JOB_MANIFEST_FILE) : [];
  const want = new Map(expectedShas.map((s, i) => [`frame_${String(first + i).padStart(6, "0")}.png`, { sha: s, index: first + i }]));
  const missing: number[] = [];
  const corrupt: number[] = [];
  let present = 0;
  for (const [name, { sha, index }] of want) {
    const p = join(jobDir, name);
    if (!existsSync(p)) {
      missing.push(index);
      continue;
    }
    present++;
    // The file is the agent's PNG plus the sink's provenance chunk; without the chunk it is byte for byte the agent's.
    if (createHash("sha256").update(removeTextChunk(readFileSync(p), PROVENANCE_KEYWORD)).digest("hex") !== sha) corrupt.push(index);
  }
  const unexpected = names.filter((n) => !want.has(n));
  const stagingDir = join(outputRoot, ".nightshift-staging");
  const stagingLeftovers = existsSync(stagingDir) ? readdirSync(stagingDir).length : 0;
  return { expected: expectedShas.length, present, missing, corrupt, unexpected, stagingLeftovers };
}
