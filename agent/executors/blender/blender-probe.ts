import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { findOnPath } from "../../../shared/media/ffmpeg-binaries.ts";
import type { KindCapability } from "../../../shared/steps/kind-capability.ts";

/**
 * Does this machine have Blender? The admin's configured path when there is
 * one, else `blender` on PATH; `blender --version` must answer, and its
 * version is what the agent advertises (`blender 3.4.1`), so a step that
 * pins a version is only placed where it can run.
 */

const run = promisify(execFile);
/** `blender --version` loads no scene but still starts Blender; on a busy machine that takes seconds. */
const VERSION_TIMEOUT_MS = 60_000;

export interface FoundBlender {
  path: string;
  capability: KindCapability;
}

/** The configured path if given (it is used as is, never swapped for another), else `blender` on PATH. */
export function blenderCandidate(configured: string | undefined, pathEnv = process.env.PATH ?? ""): string | null {
  if (configured !== undefined && configured !== "") return configured;
  return findOnPath("blender", pathEnv);
}

/** "Blender 3.4.1" (the first line of `blender --version`) -> "3.4.1". */
export function parseBlenderVersion(stdout: string): string | null {
  const match = /^Blender (\d+\.\d+(?:\.\d+)?)/m.exec(stdout);
  return match?.[1] ?? null;
}

/** Answers by binary path: agents started in one process (tests, benchmarks) start Blender once to ask. */
const answers = new Map<string, Promise<FoundBlender | null>>();

/** Blender and its capability, or null when there is none that answers `--version`. */
export function probeBlender(configured?: string): Promise<FoundBlender | null> {
  const path = blenderCandidate(configured);
  if (path === null) return Promise.resolve(null);
  let answer = answers.get(path);
  if (answer === undefined) {
    answer = askVersion(path);
    answers.set(path, answer);
  }
  return answer;
}

async function askVersion(path: string): Promise<FoundBlender | null> {
  try {
    const { stdout } = await run(path, ["--version"], { timeout: VERSION_TIMEOUT_MS, maxBuffer: 1 << 20 });
    const version = parseBlenderVersion(stdout);
    return version === null ? null : { path, capability: { kind: "blender", version, features: [] } };
  } catch {
    return null;
  }
}
