/**
 * Why this file exists: the one check of a frame's bytes against the sha256
 * its agent announced, made wherever the frame is staged: on the event loop
 * (result-sink.ts, a stamped frame, or staging in line) or on the staging
 * thread (staging-thread.ts), which then answers with BAD_CHECKSUM.
 */
import { createHash } from "node:crypto";
import { UploadRefusedError } from "../../shared/errors.ts";

/** The code of a staging thread's answer for a frame whose bytes do not match its sha256. */
export const BAD_CHECKSUM = "bad-checksum";

export function sha256Matches(data: Uint8Array, sha256: string): boolean {
  return createHash("sha256").update(data).digest("hex") === sha256.toLowerCase();
}

/** The refusal of frame `frame` whose bytes do not hash to its announced sha256. */
export function badChecksum(frame: number): UploadRefusedError {
  return new UploadRefusedError(`frame ${frame}: sha256 mismatch`, BAD_CHECKSUM);
}

/** Refuses (bad-checksum) a frame whose bytes do not hash to `sha256`. */
export function checkFrameSha256(data: Uint8Array, sha256: string, frame: number): void {
  if (!sha256Matches(data, sha256)) throw badChecksum(frame);
}
