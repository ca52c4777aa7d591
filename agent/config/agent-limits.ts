import { BadInputError } from "../../shared/errors.ts";
import { parseByteSize } from "../../shared/job-spec/byte-size.ts";
import { KEEP_BYTES } from "../grpc/kept-frames.ts";
import type { AgentFile } from "./agent-file-schema.ts";

/**
 * Why this file exists: two agent settings that were an environment variable read per upload
 * (`NIGHTSHIFT_KEEP_UPLOAD_BYTES`, a bad value silently taken as the default) and an option only code
 * could set (`claimNext`) are compiled here once, at start, from the CLI flag, the config file and (the
 * keep bound only, for tests that start agent processes) the environment; a bad value stops the agent
 * with exit 2, naming where it came from.
 *
 *   keepUploadBytes: 64MiB   # --keep-upload-bytes: frames one upload keeps to send again after a coordinator restart; 0: none
 *   claimNext: true          # --no-claim-next: ask for the next chunk on the claim stream before pulling
 */
export interface AgentLimits {
  /** The most bytes of frames one upload keeps in memory to send again (agent/grpc/kept-frames.ts); 0 keeps none. */
  keepUploadBytes: number;
  /** Ask the coordinator for the next chunk before pulling a work message (AgentOptions.claimNext). */
  claimNext: boolean;
}

/** The environment variable tests set the keep bound with (an agent process started by a test); the flag and the config key come first. */
export const KEEP_UPLOAD_BYTES_ENV = "NIGHTSHIFT_KEEP_UPLOAD_BYTES";

/** A byte count given as a whole number (0 allowed) or a size like "64MiB"; BadInputError naming `field` otherwise. */
export function parseKeepUploadBytes(value: unknown, field: string): number {
  if (typeof value === "number" || (typeof value === "string" && /^\s*\d+\s*$/.test(value))) {
    const n = Number(value);
    if (Number.isSafeInteger(n) && n >= 0) return n;
  } else if (typeof value === "string") {
    const parsed = parseByteSize(value);
    if (parsed.ok) return parsed.bytes;
  }
  throw new BadInputError(`${field}: expected a number of bytes (0: keep none) or a size like '64MiB', got ${JSON.stringify(value)}`, { field });
}

/**
 * The agent's limits from its flags, its config file's keys and the environment, in that order; defaults where
 * none is given. `file` is the config file as its schema checked it (agent-file-schema.ts: `claimNext` a
 * boolean, `keepUploadBytes` a text or a number), so only the values are checked here.
 */
export function agentLimits(
  flags: { keepUploadBytes?: string; claimNext?: boolean },
  file: Pick<AgentFile, "keepUploadBytes" | "claimNext">,
  env: NodeJS.ProcessEnv = process.env,
): AgentLimits {
  const keep: [unknown, string] | undefined =
    flags.keepUploadBytes !== undefined ? [flags.keepUploadBytes, "--keep-upload-bytes"]
    : file.keepUploadBytes !== undefined ? [file.keepUploadBytes, "keepUploadBytes"]
    : env[KEEP_UPLOAD_BYTES_ENV] !== undefined ? [env[KEEP_UPLOAD_BYTES_ENV], KEEP_UPLOAD_BYTES_ENV]
    : undefined;
  return {
    keepUploadBytes: keep === undefined ? KEEP_BYTES : parseKeepUploadBytes(keep[0], keep[1]),
    // --no-claim-next turns it off; otherwise the config file's key, on by default.
    claimNext: flags.claimNext === false ? false : (file.claimNext ?? true),
  };
}
