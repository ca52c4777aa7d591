/** Where `npm run models:fetch` puts learned models by default (git-ignored); tests and the demo look here. */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const FETCHED_MODELS_DIR = process.env.NIGHTSHIFT_FETCHED_MODELS_DIR ?? join(dirname(fileURLToPath(import.meta.url)), "fetched");
export const FETCH_COMMAND = "npm run models:fetch";
