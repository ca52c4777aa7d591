import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { AGENT_FILE_KEYS, parseAgentFile } from "../../agent/config/agent-file-schema.ts";
import { PROJECT_ROOT } from "../../cli/paths.ts";
import { isBadInput } from "../../shared/errors.ts";
import { docBlocks } from "../support/doc-blocks.ts";
import { compileAgentConfigExample, uncommentKeys } from "../support/agent-config-example.ts";

/**
 * The agent's config file has one strict schema (agent/config/agent-file-schema.ts): every key the agent
 * reads is accepted, an unknown key or a wrong type is refused naming the key and the file.
 */

/** One value for every key the agent reads from its file (cli/commands/agent-command.ts, agent/config/). */
const EVERY_KEY: Record<string, unknown> = {
  coordinator: "coordinator-host:7400",
  joinToken: "nsj_example",
  cacheSize: "20GiB",
  onnxProviders: ["webgpu", "cpu"],
  keepUploadBytes: "64MiB",
  claimNext: false,
  sharedRoot: "/mnt/nas",
  blender: { path: "/usr/bin/blender", enabled: true },
  commands: { "ffmpeg-denoise": { path: "/usr/bin/ffmpeg" } },
  comfyui: { url: "http://127.0.0.1:8188" },
};

/** The BadInputError parseAgentFile throws for `raw`, read from a file named agent.yaml. */
function refusal(raw: Record<string, unknown>): { message: string; field: string | undefined } {
  try {
    parseAgentFile(raw, "/etc/nightshift/agent.yaml");
  } catch (err) {
    assert.ok(isBadInput(err), `a BadInputError (exit 2), got ${String(err)}`);
    return { message: err.message, field: err.field };
  }
  assert.fail(`${JSON.stringify(raw)} was accepted`);
}

test("every key the agent reads is accepted, alone and all together, with the values it compiles", () => {
  assert.deepEqual([...AGENT_FILE_KEYS].sort(), Object.keys(EVERY_KEY).sort(), "the schema's keys are the ones listed here");
  for (const [key, value] of Object.entries(EVERY_KEY)) assert.doesNotThrow(() => parseAgentFile({ [key]: value }, "agent.yaml"), key);
  const file = parseAgentFile(EVERY_KEY, "agent.yaml");
  assert.equal(file.onnxProviders, "webgpu,cpu", "a list compiles to the --onnx-providers text");
  assert.equal(parseAgentFile({ onnxProviders: "webgpu,cpu" }, "agent.yaml").onnxProviders, "webgpu,cpu");
  assert.equal(file.claimNext, false);
  // Sizes as numbers too, as the parsers take them.
  assert.doesNotThrow(() => parseAgentFile({ cacheSize: 1 << 30, keepUploadBytes: 0 }, "agent.yaml"));
});

test("an unknown key is refused by name, with the file and the key it was probably meant to be", () => {
  const typo = refusal({ keepUploadByte: "64MiB" });
  assert.equal(typo.field, "keepUploadByte");
  assert.match(typo.message, /^agent config \/etc\/nightshift\/agent\.yaml: keepUploadByte: unknown field \(did you mean 'keepUploadBytes'\?\)/);
  assert.match(refusal({ claimnext: false }).message, /claimnext: unknown field \(did you mean 'claimNext'\?\)/);
  const far = refusal({ gpus: 2 });
  assert.match(far.message, /gpus: unknown field; fields are coordinator, joinToken, cacheSize/);
  // Inside a step-kind section too.
  assert.match(refusal({ blender: { pth: "/usr/bin/blender" } }).message, /blender\.pth: unknown field/);
});

test("a wrong type is refused naming the key", () => {
  assert.match(refusal({ claimNext: "no" }).message, /agent\.yaml: claimNext: expected true or false, got 'no'/);
  assert.match(refusal({ cacheSize: [20] }).message, /cacheSize: expected a size like '20GiB' or a number of bytes/);
  assert.match(refusal({ keepUploadBytes: true }).message, /keepUploadBytes: expected a size like '64MiB'/);
  assert.match(refusal({ onnxProviders: { webgpu: true } }).message, /onnxProviders: expected a list such as \[webgpu, cpu\]/);
  assert.match(refusal({ coordinator: 7400 }).message, /coordinator: expected a string, got 7400/);
  assert.match(refusal({ joinToken: "" }).message, /joinToken: must not be empty/);
  assert.match(refusal({ sharedRoot: "nas" }).message, /sharedRoot: must be an absolute path/);
});

test("deploy/agent.example.yaml compiles as shipped and with every commented key taken in", () => {
  const text = readFileSync(join(PROJECT_ROOT, "deploy/agent.example.yaml"), "utf8");
  compileAgentConfigExample(text, "deploy/agent.example.yaml");
  const all = compileAgentConfigExample(uncommentKeys(text), "deploy/agent.example.yaml (uncommented)");
  assert.deepEqual(Object.keys(all).filter((k) => all[k as keyof typeof all] !== undefined).sort(), [...AGENT_FILE_KEYS].sort(), "the example names every key");
});

test("the README's agent config examples show the settings beside the step kinds, and compile", () => {
  const named = new Set<string>();
  for (const b of docBlocks("README.md").filter((d) => d.markers.includes("agent-config-test"))) {
    for (const key of Object.keys(compileAgentConfigExample(b.text, `README.md:${b.line}`))) named.add(key);
  }
  for (const key of ["cacheSize", "onnxProviders", "keepUploadBytes", "claimNext"]) assert.ok(named.has(key), `a README agent-config-test block shows ${key}`);
});
