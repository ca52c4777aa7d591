import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import { compileCoordinatorConfig } from "../../coordinator/config/coordinator-config.ts";
import { BUNDLED_MODELS_DIR, PROJECT_ROOT } from "../../cli/paths.ts";
import { BadInputError } from "../../shared/errors.ts";

test("deploy/coordinator.example.yaml is a valid coordinator config", () => {
  const raw = YAML.parse(readFileSync(join(PROJECT_ROOT, "deploy/coordinator.example.yaml"), "utf8")) as Record<string, unknown>;
  const c = compileCoordinatorConfig(raw, BUNDLED_MODELS_DIR);
  assert.equal(c.listenPort, 7400);
  assert.equal(c.outputRoot, "/mnt/nas/renders");
  assert.match(c.tariffLabel, /time-of-use/);
  // A typo in a key is refused with the key named, not ignored.
  assert.throws(() => compileCoordinatorConfig({ ...raw, heartbeatMS: 1000 }, BUNDLED_MODELS_DIR), (e: unknown) => e instanceof BadInputError && /heartbeatMS/.test(e.message));
});
