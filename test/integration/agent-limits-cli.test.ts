import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ANSWERED_PREFIX } from "../../coordinator/dispatch/claim-service.ts";
import { generatedJob, startAgentProcess, startTestCoordinator, tempDir } from "../support/farm.ts";
import { assertGeneratedJobDone } from "../support/assert-generated-job.ts";
import { runCli } from "../support/run-cli.ts";

/**
 * The agent's keepUploadBytes and claimNext (agent/config/agent-limits.ts) from `nightshift agent`: a bad value
 * stops the agent with exit 2 before it contacts anyone, naming the flag, the config key or the environment
 * variable; `--no-claim-next` reaches the agent.
 */

// 127.0.0.1:9 (discard) is never contacted: the value is refused first.
const agentArgs = (dir: string, ...more: string[]): string[] => ["agent", "--coordinator", "127.0.0.1:9", "--data-dir", join(dir, "agent"), "--energy-source", "estimate", ...more];

test("a bad keep bound or claimNext is refused by name with exit 2: the flag, the config key, the environment variable", async (t) => {
  const dir = tempDir(t, "ns-agent-limits-");
  const flag = await runCli(agentArgs(dir, "--keep-upload-bytes", "lots"));
  assert.equal(flag.status, 2, `exit code (stderr: ${flag.stderr})`);
  assert.match(flag.stderr, /--keep-upload-bytes: expected a number of bytes/);
  // Was taken silently as 64 MiB.
  const env = await runCli(agentArgs(dir), { env: { NIGHTSHIFT_KEEP_UPLOAD_BYTES: "64M" } });
  assert.equal(env.status, 2, `exit code (stderr: ${env.stderr})`);
  assert.match(env.stderr, /NIGHTSHIFT_KEEP_UPLOAD_BYTES: expected a number of bytes/);
  const config = join(dir, "agent.yaml");
  writeFileSync(config, "claimNext: no-thanks\n");
  const file = await runCli(agentArgs(dir, "--config", config));
  assert.equal(file.status, 2, `exit code (stderr: ${file.stderr})`);
  assert.match(file.stderr, /claimNext: expected true or false/);
});

test("--no-claim-next: the agent process pulls every chunk; none is answered to a claim for the next chunk", async (t) => {
  const dir = tempDir(t, "ns-agent-no-claim-next-");
  const coordinator = await startTestCoordinator(t, dir);
  await startAgentProcess(t, coordinator.address, "puller", dir, undefined, ["--no-claim-next", "--keep-upload-bytes", "0"]);
  const [W, H, N] = [32, 32, 12];
  const { jobId } = await coordinator.api.submit(JSON.stringify(generatedJob("no-next", N, W, H, 2)), dir);
  await assertGeneratedJobDone(coordinator, dir, jobId, N, W, H);
  const answered = coordinator.store.chunks.listByJob(jobId).filter((c) => c.dispatchId?.startsWith(`${ANSWERED_PREFIX}_`));
  assert.equal(answered.length, 0, `${answered.length} chunks answered to a claim for the next chunk`);
  assert.ok(coordinator.workMessagesPublished >= N / 2, "a work message for every chunk");
});
