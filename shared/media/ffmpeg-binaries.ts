import { accessSync, constants, statSync } from "node:fs";
import { delimiter, join } from "node:path";
import { MissingDependencyError } from "../errors.ts";

/** The first executable called `name` on PATH, or null. */
export function findOnPath(name: string, pathEnv = process.env.PATH ?? ""): string | null {
  for (const dir of pathEnv.split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, name);
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

export function findFfmpeg(): string | null {
  return findOnPath("ffmpeg");
}

export function findFfprobe(): string | null {
  return findOnPath("ffprobe");
}

const INSTALL = "install ffmpeg (it provides ffmpeg and ffprobe), e.g. `apt-get install ffmpeg` or `brew install ffmpeg`";

/** Path of ffmpeg or ffprobe, or MissingDependencyError saying how to install it. */
export function requireBinary(name: "ffmpeg" | "ffprobe"): string {
  const found = findOnPath(name);
  if (found === null) throw new MissingDependencyError(`${name} not found on PATH`, INSTALL);
  return found;
}
