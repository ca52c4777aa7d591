/**
 * Small named errors. Every error that reaches the CLI maps to an exit code in
 * one place (cli/exit-codes.ts): BadInputError is exit 2, everything else 1.
 */

/** The user gave us something wrong: a field, a file, a path. Exit code 2. */
export class BadInputError extends Error {
  override readonly name: string = "BadInputError";
  /** Dotted path of the offending field or the offending file, when known. */
  readonly field: string | undefined;
  constructor(message: string, options: { field?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.field = options.field;
  }
}

/** A needed outside program or library is missing (nats-server, ffmpeg). */
export class MissingDependencyError extends Error {
  override readonly name = "MissingDependencyError";
  constructor(
    message: string,
    readonly instruction: string,
  ) {
    super(message);
  }
}

/** A state machine was asked for a transition it does not allow. */
export class IllegalTransitionError extends Error {
  override readonly name = "IllegalTransitionError";
  constructor(
    readonly entity: string,
    readonly from: string,
    readonly to: string,
  ) {
    super(`${entity}: illegal transition ${from} -> ${to}`);
  }
}

/** A result upload was refused by the sink (stale attempt, bad checksum, ...). */
/** The refusal of an upload for an attempt whose earlier upload the coordinator still holds: the agent may send it again shortly (agent/grpc/result-uploader.ts). */
export const UPLOAD_IN_PROGRESS = "upload-in-progress";
/** The refusal of an upload for an attempt that is no longer the chunk's live one (committed, lost, replaced): the agent drops it, and reports nothing. */
export const STALE_ATTEMPT = "stale-attempt";
/** The refusal of an upload for an attempt the coordinator does not know. */
export const UNKNOWN_ATTEMPT = "unknown-attempt";

export class UploadRefusedError extends Error {
  override readonly name = "UploadRefusedError";
  constructor(
    message: string,
    readonly reason: string,
  ) {
    super(message);
  }
}

export function isBadInput(err: unknown): err is BadInputError {
  return err instanceof BadInputError;
}
