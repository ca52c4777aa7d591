import { join } from "node:path";
import { BadInputError } from "../errors.ts";

/**
 * An asset (a model, a scene, a file a scene references, a workflow input) is
 * named by what it is: the sha256 of its bytes and their count. Both sides use
 * the same names, so a path built from one never leaves the store's folder.
 */
export interface AssetRef {
  readonly sha256: string;
  readonly size: number;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

export function isSha256(text: string): boolean {
  return SHA256_HEX.test(text);
}

/** Throws BadInputError naming `field` unless `text` is 64 lower-case hex digits. */
export function checkSha256(text: string, field = "sha256"): string {
  if (!isSha256(text)) throw new BadInputError(`${field}: expected 64 lower-case hex digits, got '${text.slice(0, 80)}'`, { field });
  return text;
}

/** Where a content-addressed folder keeps an asset: <root>/<first two hex digits>/<sha256>. */
export function blobPath(root: string, sha256: string): string {
  checkSha256(sha256);
  return join(root, sha256.slice(0, 2), sha256);
}

/** The asset's bytes are not the ones its name promises. */
export class AssetMismatchError extends Error {
  override readonly name = "AssetMismatchError";
  constructor(
    readonly expected: AssetRef,
    readonly actual: AssetRef,
  ) {
    super(`asset ${expected.sha256.slice(0, 12)}…: expected ${expected.size} bytes with that sha256, got ${actual.size} bytes with sha256 ${actual.sha256.slice(0, 12)}…`);
  }
}

/** The source will never deliver this asset (unknown to the store, or the caller is refused): retrying is pointless. */
export class AssetUnavailableError extends Error {
  override readonly name = "AssetUnavailableError";
}
