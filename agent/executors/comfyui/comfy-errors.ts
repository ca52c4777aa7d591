/**
 * Named errors of the ComfyUI executor, one per way a prompt can go wrong, so
 * that the runner and the health watcher tell a workflow ComfyUI refused (the
 * chunk fails with ComfyUI's own words) from a ComfyUI that went away (the
 * attempt fails and the chunk is retried, here or elsewhere).
 */

/** ComfyUI did not answer (connection refused, reset, timed out, 5xx). */
export class ComfyUnavailableError extends Error {
  override readonly name = "ComfyUnavailableError";
  constructor(
    readonly url: string,
    detail: string,
    options: { cause?: unknown } = {},
  ) {
    super(`ComfyUI at ${url} did not answer: ${detail}`, options.cause === undefined ? undefined : { cause: options.cause });
  }
}

/** A prompt ComfyUI accepted is in neither /queue nor /history: it restarted, or dropped the prompt. Never reported done. */
export class ComfyPromptLostError extends Error {
  override readonly name = "ComfyPromptLostError";
  constructor(readonly promptId: string) {
    super(`ComfyUI lost prompt ${promptId} (it is in neither /queue nor /history: the server restarted or dropped it)`);
  }
}

/** POST /prompt answered 400: the workflow did not validate. `message` is ComfyUI's own, node by node. */
export class ComfyRejectedError extends Error {
  override readonly name = "ComfyRejectedError";
  constructor(
    message: string,
    readonly body: unknown,
  ) {
    super(message);
  }
}

/** The prompt ran and a node raised (execution_error), or was interrupted. */
export class ComfyExecutionError extends Error {
  override readonly name = "ComfyExecutionError";
  constructor(
    message: string,
    readonly interrupted: boolean,
  ) {
    super(message);
  }
}
