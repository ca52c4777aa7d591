import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../support/farm.ts";
import { runCli } from "../support/run-cli.ts";
import { countingListener } from "../support/counting-listener.ts";

/**
 * `nightshift agent --config agent.yaml` checks the whole file against one schema
 * (agent/config/agent-file-schema.ts) before it contacts anyone: an unknown key or a wrong type is exit 2
 * naming the key and the file; a file of known keys is taken, and its `coordinator` key is where the agent goes.
 */

test("an unknown key or a wrong type in the agent's config file stops it with exit 2, naming the key and the file, before it connects", async (t) => {
  const dir = tempDir(t, "ns-agent-file-");
  const listener = await countingListener(t);
  const config = join(dir, "agent.yaml");
  const agent = (): Promise<Awaited<ReturnType<typeof runCli>>> =>
    runCli(["agent", "--config", config, "--enroll", listener.address, "--data-dir", join(dir, "agent"), "--energy-source", "estimate"], { timeoutMs: 60_000 });

  // Before: the typo was ignored and the agent went on to enroll.
  writeFileSync(config, `coordinator: ${listener.address}\njoinToken: nsj_example\nkeepUploadByte: 1MiB\n`);
  const typo = await agent();
  assert.equal(typo.status, 2, `exit code (stderr: ${typo.stderr})`);
  assert.match(typo.stderr, new RegExp(`agent config ${config.replaceAll("/", "\\/")}: keepUploadByte: unknown field \\(did you mean 'keepUploadBytes'\\?\\)`));

  writeFileSync(config, `coordinator: ${listener.address}\njoinToken: nsj_example\ncacheSize: [20GiB]\n`);
  const wrongType = await agent();
  assert.equal(wrongType.status, 2, `exit code (stderr: ${wrongType.stderr})`);
  assert.match(wrongType.stderr, /agent\.yaml: cacheSize: expected a size like '20GiB'/);
  assert.equal(listener.connections(), 0, "no connection before the file was checked");

  // Every setting key at once: accepted, and the agent goes where `coordinator` says (enrollment there is refused: exit 1).
  writeFileSync(config, `coordinator: ${listener.address}\njoinToken: nsj_example\ncacheSize: 1GiB\nonnxProviders: [cpu]\nkeepUploadBytes: 0\nclaimNext: false\nblender: { enabled: false }\n`);
  const taken = await agent();
  assert.equal(taken.status, 1, `exit code (stderr: ${taken.stderr})`);
  assert.doesNotMatch(taken.stderr, /agent config/);
  assert.ok(listener.connections() >= 1, `the agent contacted the listener (stderr: ${taken.stderr})`);
});
