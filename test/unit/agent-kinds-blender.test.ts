import assert from "node:assert/strict";
import { test } from "node:test";
import { AgentKindsConfigSchema } from "../../agent/config/agent-kinds-config.ts";
import { kindFactories } from "../../agent/executors/agent-kinds.ts";
import { blenderCandidate } from "../../agent/executors/blender/blender-probe.ts";
import { testLog } from "../helpers/test-log.ts";

const kinds = (raw: unknown): string[] => kindFactories(AgentKindsConfigSchema.parse(raw), testLog()).map((f) => f.kind);

test("Blender is offered where the shared root is mounted or Blender is configured, and not when switched off", () => {
  assert.deepEqual(kinds({}), []);
  assert.deepEqual(kinds({ blender: { path: "/opt/blender/blender" } }), ["blender"], "no sharedRoot: scenes sent by content only");
  assert.deepEqual(kinds({ blender: { enabled: true } }), ["blender"]);
  assert.deepEqual(kinds({ sharedRoot: "/mnt/nas" }), ["blender"]);
  assert.deepEqual(kinds({ sharedRoot: "/mnt/nas", blender: { enabled: false } }), []);
});

test("the configured Blender is used as given; otherwise `blender` on PATH", () => {
  assert.equal(blenderCandidate("/opt/blender/blender", ""), "/opt/blender/blender");
  assert.equal(blenderCandidate(undefined, ""), null);
  assert.equal(blenderCandidate(undefined, "/nonexistent-dir"), null);
});
