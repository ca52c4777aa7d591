import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PROJECT_ROOT } from "../../cli/paths.ts";
import { tempDir } from "../support/farm.ts";
import { runCli } from "../support/run-cli.ts";
import { countingListener } from "../support/counting-listener.ts";
import { execStart } from "../support/unit-exec-start.ts";

/**
 * The shipped agent unit (deploy/nightshift-agent.service) runs the agent with the config file that
 * deploy/README.md step 4 installs from deploy/agent.example.yaml: its command line, with the installed paths
 * mapped to a temp dir, reads that file (a typo in it is exit 2 naming the key and the file; the example as
 * shipped is taken).
 */

test("the agent unit's ExecStart passes the config file deploy/README.md installs from agent.example.yaml, and the agent reads it", async (t) => {
  const argv = execStart("nightshift-agent.service");
  assert.equal(argv[0], "/usr/local/bin/nightshift");
  assert.equal(argv[1], "agent");
  const configAt = argv.indexOf("--config");
  assert.ok(configAt > 0, `the unit passes --config (ExecStart: ${argv.join(" ")})`);
  const installed = argv[configAt + 1] as string;
  const readme = readFileSync(join(PROJECT_ROOT, "deploy/README.md"), "utf8");
  assert.ok(readme.includes(`deploy/agent.example.yaml" ${installed}`), `deploy/README.md installs agent.example.yaml as ${installed}`);

  const root = tempDir(t, "ns-agent-unit-");
  mkdirSync(join(root, "etc/nightshift"), { recursive: true });
  const local = (w: string): string => w.replace(/^\/etc\/nightshift\//, `${root}/etc/nightshift/`).replace(/^\/var\/lib\/nightshift\//, `${root}/var/lib/nightshift/`);
  const args = argv.slice(1).map(local);
  const file = local(installed);
  const example = readFileSync(join(PROJECT_ROOT, "deploy/agent.example.yaml"), "utf8");
  const listener = await countingListener(t);

  // A typo in the installed file: the unit's agent stops with exit 2 naming the key and the file, before it connects.
  writeFileSync(file, `${example}\ncoordinator: ${listener.address}\njoinToken: nsj_example\ncacheSise: 1GiB\n`);
  const typo = await runCli([...args, "--enroll", listener.address, "--energy-source", "estimate"], { timeoutMs: 60_000 });
  assert.equal(typo.status, 2, `exit code (stderr: ${typo.stderr})`);
  assert.match(typo.stderr, new RegExp(`agent config ${file.replaceAll("/", "\\/")}: cacheSise: unknown field \\(did you mean 'cacheSize'\\?\\)`));
  assert.equal(listener.connections(), 0);

  // The example as shipped (with this farm's coordinator and a first start's token): taken, and the agent goes where
  // the file's `coordinator` says (enrollment there is refused: exit 1).
  writeFileSync(file, `${example}\ncoordinator: ${listener.address}\njoinToken: nsj_example\n`);
  const taken = await runCli([...args, "--enroll", listener.address, "--energy-source", "estimate"], { timeoutMs: 60_000 });
  assert.equal(taken.status, 1, `exit code (stderr: ${taken.stderr})`);
  assert.doesNotMatch(taken.stderr, /agent config/);
  assert.ok(listener.connections() >= 1, `the agent contacted the listener (stderr: ${taken.stderr})`);
});
