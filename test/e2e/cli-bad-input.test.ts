import { before, after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { Coordinator } from "../../coordinator/coordinator.ts";
import { compileCoordinatorConfig } from "../../coordinator/config/coordinator-config.ts";
import { silentLogger } from "../../shared/log.ts";
import { BUNDLED_MODELS_DIR } from "../../cli/paths.ts";
import { runCli } from "../support/run-cli.ts";

let dir: string;
let outside: string;
let coordinator: Coordinator;
const outputRoot = (): string => join(dir, "output");

const good = {
  name: "bad-input-check",
  input: { type: "generated", width: 32, height: 18, frames: 12 },
  steps: [{ id: "grade", kind: "model", model: "colour-grade" }],
  chunking: { mode: "fixed", size: 4 },
};

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "ns-badinput-"));
  outside = mkdtempSync(join(tmpdir(), "ns-outside-"));
  const config = compileCoordinatorConfig({ dataDir: join(dir, "data"), outputRoot: join(dir, "output"), modelsDir: BUNDLED_MODELS_DIR }, BUNDLED_MODELS_DIR);
  coordinator = await Coordinator.start(config, silentLogger());
  // A symlink inside the output root that points outside it.
  symlinkSync(outside, join(outputRoot(), "escape"));
});

after(async () => {
  await coordinator.stop();
  rmSync(dir, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

function writeJob(name: string, spec: unknown): string {
  const p = join(dir, `${name}.yaml`);
  writeFileSync(p, YAML.stringify(spec));
  return p;
}

async function submitExpectingBadInput(file: string, mentions: RegExp): Promise<void> {
  const before = readdirSync(outputRoot()).sort();
  const r = await runCli(["submit", file, "--coordinator", coordinator.address, "--data-dir", join(dir, "data")]);
  assert.equal(r.status, 2, `exit code (stderr: ${r.stderr})`);
  assert.match(r.stderr, mentions);
  assert.deepEqual(readdirSync(outputRoot()).sort(), before, "nothing written under the output root");
  assert.deepEqual(readdirSync(outside), [], "nothing written outside the output root");
  assert.equal(coordinator.store.jobs.list().length, 0, "no job recorded");
}

test("missing field: exit 2, names the field", async () => {
  const { name: _drop, ...noName } = good;
  await submitExpectingBadInput(writeJob("missing", noName), /name/);
});

test("wrong type: exit 2, names the field", async () => {
  await submitExpectingBadInput(writeJob("wrongtype", { ...good, chunking: { mode: "fixed", size: "eight" } }), /chunking\.size/);
});

test("unknown model: exit 2, names the model and what is available", async () => {
  await submitExpectingBadInput(writeJob("unknownmodel", { ...good, steps: [{ id: "grade", kind: "model", model: "no-such-model" }] }), /no-such-model[\s\S]*colour-grade/);
});

test("model hash that does not match the studio's model file: exit 2, names the model and both hashes", async () => {
  const wrong = "0".repeat(64);
  await submitExpectingBadInput(
    writeJob("wronghash", { ...good, steps: [{ id: "grade", kind: "model", model: "colour-grade", modelSha256: wrong }] }),
    new RegExp(`steps\\[0\\]\\.modelSha256[\\s\\S]*colour-grade[\\s\\S]*[0-9a-f]{64}[\\s\\S]*${wrong}`),
  );
});

test("model hash that is not a sha256: exit 2, names the field", async () => {
  await submitExpectingBadInput(writeJob("badhash", { ...good, steps: [{ id: "grade", kind: "model", model: "colour-grade", modelSha256: "abc" }] }), /modelSha256[\s\S]*64 hex/);
});

test("frame range that does not fit the input: exit 2", async () => {
  await submitExpectingBadInput(writeJob("range", { ...good, frames: { start: 4, end: 40 } }), /frames\.end/);
});

test("output path with '..': exit 2", async () => {
  await submitExpectingBadInput(writeJob("dotdot", { ...good, output: { path: "../elsewhere" } }), /output\.path/);
});

test("output path through a symlink that leaves the output root: exit 2", async () => {
  await submitExpectingBadInput(writeJob("symlink", { ...good, output: { path: "escape/job" } }), /output\.path[\s\S]*symlink/);
});

test("unreadable job file: exit 2, names the file", async () => {
  await submitExpectingBadInput(join(dir, "does-not-exist.yaml"), /does-not-exist\.yaml/);
});

test("a good job after all that is accepted and planned into chunks", async () => {
  const r = await runCli(["submit", writeJob("good", good), "--coordinator", coordinator.address, "--data-dir", join(dir, "data"), "--json"]);
  assert.equal(r.status, 0, r.stderr);
  const { jobId } = JSON.parse(r.stdout) as { jobId: string };
  assert.match(jobId, /^job_/);
  const job = coordinator.store.jobs.get(jobId);
  assert.ok(job);
  assert.deepEqual(
    coordinator.store.chunks.listByJob(jobId).map((c) => [c.frameStart, c.frameEnd]),
    [[0, 3], [4, 7], [8, 11]],
  );
});
