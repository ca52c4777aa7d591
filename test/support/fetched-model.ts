/**
 * The learned upscaler fetched by `npm run models:fetch` (CI runs it before the
 * tests). Tests that need it skip with this reason when it is absent.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { FETCH_COMMAND, FETCHED_MODELS_DIR } from "../../models/fetched-models-dir.ts";
import { UPSCALE_MODEL_NAME } from "../../models/fetchable-models.ts";

export const upscaleModelDir = FETCHED_MODELS_DIR;

/** A skip reason when the upscaler was not fetched, else false. */
export function upscaleModelMissing(): string | false {
  return existsSync(join(FETCHED_MODELS_DIR, `${UPSCALE_MODEL_NAME}.manifest.json`))
    ? false
    : `the learned upscaler is not in ${FETCHED_MODELS_DIR}; run \`${FETCH_COMMAND}\``;
}
