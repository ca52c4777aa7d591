import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { BadInputError, MissingDependencyError } from "../../shared/errors.ts";

/**
 * Scene cut detection with ffmpeg (the one impure file of the planner):
 *
 *   ffmpeg -i VIDEO -an -vf "setpts=N,select='gt(scene,T)',showinfo" -f null -
 *
 * `setpts=N` first rewrites each frame's timestamp to its 0-based index in
 * decode (presentation) order, so the `pts:` that showinfo prints for a
 * selected frame is exactly the frame index where a new shot starts: no
 * rounding of pts_time * fps, correct for variable frame rate too. The
 * scene score does not depend on timestamps. Pair with shotsFromCuts().
 */

export interface DetectScenesOptions {
  /** ffmpeg's scene score threshold, 0..1 (job spec default 0.3). */
  threshold: number;
  /** Defaults to "ffmpeg" on PATH. */
  ffmpegPath?: string;
  signal?: AbortSignal;
}

/** Matches showinfo's per-frame line and captures the pts. */
const SHOWINFO_FRAME = /Parsed_showinfo_\d+ @ [^\]]*\]\s+n:\s*(\d+)\s+pts:\s*(-?\d+)\s+pts_time:/;

/** Frame indices (sorted, unique) at which a new shot starts, as ffmpeg sees them. */
export async function detectSceneCuts(videoPath: string, options: DetectScenesOptions): Promise<number[]> {
  const { threshold } = options;
  if (!Number.isFinite(threshold) || threshold < 0 || threshold > 1) {
    throw new BadInputError(`chunking.detect.threshold: ${threshold} is not between 0 and 1`, { field: "chunking.detect.threshold" });
  }
  // "file:" and the whitelist keep a user's path from naming a network protocol.
  const input = ["-protocol_whitelist", "file", "-i", `file:${videoPath}`];
  const args = ["-hide_banner", "-nostdin", "-nostats", "-loglevel", "info", ...input, "-an", "-sn", "-dn"];
  args.push("-vf", `setpts=N,select='gt(scene,${threshold})',showinfo`, "-f", "null", "-");
  const child = spawn(options.ffmpegPath ?? "ffmpeg", args, {
    stdio: ["ignore", "ignore", "pipe"],
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  const cuts = new Set<number>();
  const tail: string[] = [];
  const lines = createInterface({ input: child.stderr });
  lines.on("line", (line) => {
    const match = SHOWINFO_FRAME.exec(line);
    if (match !== null) cuts.add(Number(match[2]));
    else if (!line.includes("Parsed_showinfo")) {
      tail.push(line);
      if (tail.length > 8) tail.shift();
    }
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (exitCode) => resolve(exitCode));
  }).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new MissingDependencyError(
        `ffmpeg not found (${options.ffmpegPath ?? "ffmpeg"})`,
        "install ffmpeg (Debian/Ubuntu: sudo apt install ffmpeg) and make sure it is on PATH",
      );
    }
    throw err;
  });
  if (code !== 0) {
    const detail = tail.filter((l) => l.trim().length > 0).at(-1)?.trim() ?? `exit code ${code}`;
    throw new BadInputError(`input.path: ffmpeg could not read '${videoPath}' for scene detection: ${detail}`, {
      field: "input.path",
    });
  }
  return [...cuts].filter((c) => c > 0).sort((a, b) => a - b);
}
