/** Limits every job spec obeys, shared by the validator, the input check and the planner. */

/** A job may cover at most this many frames; more is refused as a likely mistake. */
export const MAX_JOB_FRAMES = 1_000_000;

/** How many problems a validation error lists before "and N more". */
export const MAX_ISSUES_SHOWN = 5;

/** Job files larger than this are refused before parsing. */
export const MAX_JOB_FILE_BYTES = 1024 * 1024;

/** Frames per second used when neither the spec nor the input says. */
export const DEFAULT_FPS = 24;

/** Model names, as in shared/model-manifest (lower-case, digits, '.', '_', '-'). */
export const MODEL_NAME = /^[a-z0-9][a-z0-9._-]*$/;

/** Step ids: a letter, then letters, digits, '_' or '-'. */
export const STEP_ID = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

/** Program names a command step may use: a name from the agent's allowlist, never a path. */
export const PROGRAM_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Placeholders a command step's arguments may use, each replaced as a whole argument. */
export const COMMAND_PLACEHOLDERS = [
  "{input}",
  "{output}",
  "{frame}",
  "{first}",
  "{last}",
  "{seed}",
  "{inputDir}",
  "{outputDir}",
  "{inputPattern}",
  "{outputPattern}",
] as const;
