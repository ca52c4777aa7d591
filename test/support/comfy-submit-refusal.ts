import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { prepareComfySteps } from "../../cli/comfy/prepare-comfy-steps.ts";
import { BadInputError } from "../../shared/errors.ts";

/** A job file's raw spec, as `nightshift submit` reads it. */
export function rawOf(jobFile: string): unknown {
  return JSON.parse(readFileSync(jobFile, "utf8")) as unknown;
}

/** What `nightshift submit` refuses a job file's comfyui steps with (fails the test when it accepts them). */
export async function comfySubmitRefusal(jobFile: string): Promise<BadInputError> {
  const err = await prepareComfySteps(rawOf(jobFile), jobFile).then(
    () => assert.fail("expected a refusal"),
    (e: unknown) => e,
  );
  assert.ok(err instanceof BadInputError, String(err));
  return err;
}
