import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { startCli } from "../support/cli-process.ts";
import { freePort } from "../support/free-port.ts";
import { readStore } from "../support/read-store.ts";
import { runCli } from "../support/run-cli.ts";
import { generatedJob, startAgentProcess, tempDir, waitUntil } from "../support/farm.ts";
import { Control } from "../../cli/control-client.ts";
import { adminChannel } from "../../cli/admin-credentials.ts";
import { DATA_DIR_LOCK_FILE } from "../../shared/data-dir-lock/data-dir-lock.ts";
import { NATS_PID_FILE } from "../../coordinator/nats/orphan-nats.ts";
import { processEnded } from "../../coordinator/nats/orphan-nats.ts";

/** The pid in the lock file, or null when there is none. */
function lockPid(dataDir: string): number | null {
  const file = join(dataDir, DATA_DIR_LOCK_FILE);
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as { pid: number }).pid : null;
}

function natsPid(dataDir: string): number {
  return Number(readFileSync(join(dataDir, "nats", NATS_PID_FILE), "utf8").trim());
}

function isNatsServer(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("nats-server");
  } catch {
    return false;
  }
}

test("a second coordinator on a running one's data dir exits 2 naming the lock, its pid and command; the first's nats-server and job go on; report and jobs still work", async (t) => {
  const dir = tempDir(t, "ns-lock-coord-");
  const data = join(dir, "data");
  const address = `127.0.0.1:${await freePort()}`;
  const first = startCli(["coordinator", "--data-dir", data, "--output-root", join(dir, "output"), "--listen", address]);
  t.after(() => first.stop());
  await first.waitFor(/coordinator listening/, 60_000);
  const nats = natsPid(data);
  assert.equal(lockPid(data), first.pid);
  await startAgentProcess(t, address, "worker", dir);
  const control = new Control(address, adminChannel({ dataDir: data }));
  t.after(() => control.close());
  const frames = 48;
  const { jobId } = await control.submit(JSON.stringify(generatedJob("locked", frames, 320, 180, 4)), dir);
  const db = readStore(join(data, "nightshift.db"));
  t.after(() => db.close());
  const doneChunks = (): number => db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM chunks WHERE job_id = ? AND state = 'done'`, jobId)?.n ?? 0;
  await waitUntil(() => doneChunks() >= 1, 90_000, "a chunk done");

  // Another port, so that only the data dir is shared: what stops it is the lock.
  const second = await runCli(["coordinator", "--data-dir", data, "--output-root", join(dir, "output"), "--listen", `127.0.0.1:${await freePort()}`], { timeoutMs: 60_000 });
  assert.equal(second.status, 2, second.stderr);
  assert.match(second.stderr, new RegExp(`${join(data, DATA_DIR_LOCK_FILE).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} is held by pid ${first.pid} on \\S+ \\(coordinator: .*coordinator --data-dir `));
  assert.equal(lockPid(data), first.pid, "the lock is still the first's");
  assert.equal(natsPid(data), nats, "its nats-server's pid file is untouched");
  assert.ok(isNatsServer(nats), "the first's nats-server still runs");

  // Commands that read the store or ask the coordinator work while it runs.
  const report = await runCli(["report", "--data-dir", data, "--json"]);
  assert.equal(report.status, 0, report.stderr);
  const jobs = await runCli(["jobs", "--data-dir", data]);
  assert.equal(jobs.status, 0, jobs.stderr);
  assert.match(jobs.stdout, new RegExp(jobId));

  const final = await waitUntil(() => {
    const row = db.get<{ state: string; message: string | null }>(`SELECT state, message FROM jobs WHERE id = ?`, jobId);
    return row && ["done", "failed", "cancelled"].includes(row.state) ? row : undefined;
  }, 120_000, "the job to finish", 200);
  assert.equal(final.state, "done", final.message ?? "");
  assert.equal(db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM frames WHERE job_id = ?`, jobId)?.n, frames);
  assert.ok(isNatsServer(nats), "the same nats-server served the job to its end");
  await first.stop();
  assert.equal(lockPid(data), null, "let go at a clean stop");
});

test("a coordinator SIGKILLed leaves its lock; the next start takes it over and ends the orphaned nats-server", async (t) => {
  const dir = tempDir(t, "ns-lock-coord-");
  const data = join(dir, "data");
  const args = ["coordinator", "--data-dir", data, "--output-root", join(dir, "output"), "--listen", `127.0.0.1:${await freePort()}`];
  const killed = startCli(args);
  t.after(() => killed.stop());
  await killed.waitFor(/coordinator listening/, 60_000);
  const orphan = natsPid(data);
  killed.kill("SIGKILL");
  await killed.exited;
  assert.equal(lockPid(data), killed.pid, "a killed coordinator cannot let go");

  const next = startCli(args);
  t.after(() => next.stop());
  await next.waitFor(/coordinator listening/, 60_000);
  assert.equal(lockPid(data), next.pid);
  assert.match(next.output(), /took over the data dir's lock from a process that ended without letting go/);
  await waitUntil(() => processEnded(orphan), 10_000, "the orphaned nats-server to end");
  assert.notEqual(natsPid(data), orphan);
  await next.stop();
  assert.equal(lockPid(data), null);
});

test("a second agent on a running agent's data dir exits 2 naming the lock; after the first is SIGKILLed an agent starts on it", async (t) => {
  const dir = tempDir(t, "ns-lock-agent-");
  const data = join(dir, "data");
  const address = `127.0.0.1:${await freePort()}`;
  const coordinator = startCli(["coordinator", "--data-dir", data, "--output-root", join(dir, "output"), "--listen", address]);
  t.after(() => coordinator.stop());
  await coordinator.waitFor(/coordinator listening/, 60_000);
  const agentDir = join(dir, "agent-a1");
  const a1 = await startAgentProcess(t, address, "a1", dir);
  assert.equal(lockPid(agentDir), a1.pid);
  const identity = readFileSync(join(agentDir, DATA_DIR_LOCK_FILE), "utf8");

  const second = await runCli(["agent", "--coordinator", address, "--data-dir", agentDir, "--name", "a1-again", "--join-token", "not-used", "--energy-source", "estimate"], { timeoutMs: 60_000 });
  assert.equal(second.status, 2, second.stderr);
  assert.match(second.stderr, new RegExp(`nightshift\\.lock is held by pid ${a1.pid} on \\S+ \\(agent: .*--join-token \\*\\*\\* `));
  assert.equal(readFileSync(join(agentDir, DATA_DIR_LOCK_FILE), "utf8"), identity);
  assert.equal(a1.child.exitCode, null, "the first agent runs on");

  a1.kill("SIGKILL");
  await a1.exited;
  const again = await startAgentProcess(t, address, "a1", dir);
  assert.equal(lockPid(agentDir), again.pid);
  await again.stop();
  assert.equal(lockPid(agentDir), null, "let go at a clean stop");
});
