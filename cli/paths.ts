import { homedir } from "node:os";
import { join } from "node:path";
import { PACKAGE_ROOT } from "../shared/package-root.ts";

/** The checkout (or installed package) root. */
export const PROJECT_ROOT = PACKAGE_ROOT;
export const BUNDLED_MODELS_DIR = join(PROJECT_ROOT, "models");

/** The coordinator's data dir when none is given: $NIGHTSHIFT_DATA_DIR or ~/.nightshift/coordinator. */
export function defaultDataDir(): string {
  return process.env.NIGHTSHIFT_DATA_DIR ?? join(homedir(), ".nightshift", "coordinator");
}

export function defaultAgentDataDir(): string {
  return process.env.NIGHTSHIFT_AGENT_DATA_DIR ?? join(homedir(), ".nightshift", "agent");
}
