import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { Coordinator } from "../../coordinator/coordinator.ts";
import { compileCoordinatorConfig, type RawCoordinatorConfig } from "../../coordinator/config/coordinator-config.ts";
import { silentLogger, type Logger } from "../../shared/log.ts";
import { BUNDLED_MODELS_DIR } from "../../cli/paths.ts";
import { startCli, type CliProcess } from "./cli-process.ts";
import { StudioAdmin } from "../../cli/studio-admin-client.ts";
import { defer } from "../helpers/defer.ts";

/**
 * A temp dir removed after the test. Cleanups here go through defer (last
 * opened, first closed): agents stop before their coordinator, and the
 * coordinator before its dir is removed. Bare t.after hooks run in
 * registration order, which stopped the coordinator (and its NATS) under
 * agents still pulling work.
 */
export function tempDir(t: TestContext, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  defer(t, () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** An in-process coordinator on loopback (embedded nats-server), stopped after the test. */
export async function startTestCoordinator(t: TestContext, dir: string, extra: Partial<RawCoordinatorConfig> = {}, log: Logger = silentLogger()): Promise<Coordinator> {
  const config = compileCoordinatorConfig(
    { dataDir: join(dir, "data"), outputRoot: join(dir, "output"), modelsDir: BUNDLED_MODELS_DIR, listen: "127.0.0.1:0", ...extra },
    BUNDLED_MODELS_DIR,
  );
  const c = await Coordinator.start(config, log);
  defer(t, () => c.stop());
  return c;
}

/**
 * A real `nightshift agent` process joined to `coordinator` (whose data dir is
 * `<dir>/data`), enrolled with a join token made through the admin
 * credentials there; ended by pid after the test.
 */
export async function startAgentProcess(t: TestContext, coordinatorAddress: string, name: string, dir: string, env?: Record<string, string>, args: string[] = []): Promise<CliProcess> {
  const admin = new StudioAdmin({ coordinator: coordinatorAddress, dataDir: join(dir, "data") });
  const t0 = await admin.createJoinToken({ ttlMs: 3_600_000, neverExpires: false, multiUse: false, label: name }).finally(() => admin.close());
  const enroll = `${coordinatorAddress.slice(0, coordinatorAddress.lastIndexOf(":"))}:${t0.enrollPort}`;
  const p = startCli([
    "agent", "--coordinator", coordinatorAddress, "--enroll", enroll, "--join-token", t0.token, "--ca-fingerprint", t0.caFingerprint,
    "--name", name, "--data-dir", join(dir, `agent-${name}`), "--energy-source", "estimate", ...args,
  ], env ? { env } : {});
  defer(t, () => p.stop(2000));
  await p.waitFor(/agent \S+ running/, 60_000);
  return p;
}

/** A generated-input job through the colour-grade model, frame_%06d.png under {job}/. */
export function generatedJob(name: string, frames: number, width: number, height: number, chunkSize: number, seed = 3): Record<string, unknown> {
  return {
    name,
    seed,
    input: { type: "generated", width, height, frames },
    steps: [{ id: "grade", kind: "model", model: "colour-grade" }],
    chunking: { mode: "fixed", size: chunkSize },
    output: { path: "{job}", framePattern: "frame_{frame:06}.png" },
  };
}

export async function waitUntil<T>(fn: () => T | undefined | null | false, timeoutMs: number, what: string, stepMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
