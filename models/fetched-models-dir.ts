/** Where `npm run models:fetch` puts learned models by default (git-ignored); tests and the demo look here. */
import { join } from "node:path";
import { PACKAGE_ROOT } from "../shared/package-root.ts";

export const FETCHED_MODELS_DIR = process.env.NIGHTSHIFT_FETCHED_MODELS_DIR ?? join(PACKAGE_ROOT, "models", "fetched");
export const FETCH_COMMAND = "npm run models:fetch";
