import { readFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { AgentKindsConfigSchema } from "../agent/config/agent-kinds-config.ts";
import { startEnrolledAgent } from "../agent/connect/enroll-local-agent.ts";
import type { Agent } from "../agent/agent.ts";
import { BUNDLED_MODELS_DIR } from "../cli/paths.ts";
import { compileCoordinatorConfig } from "../coordinator/config/coordinator-config.ts";
import { Coordinator } from "../coordinator/coordinator.ts";
import type { Logger } from "../shared/log.ts";
import { pixelDigest } from "../test/support/blender-scene.ts";
import { cleanupOnInterrupt, nowSeconds } from "./bench-cli.ts";

/**
 * A `kind: blender` job through the whole farm on loopback: an embedded
 * coordinator with the scene's folder as its shared root, and `agents`
 * in-process agents that mount the same root, as the Blender bench runs it
 * once with one agent and once with two.
 */

export interface BlenderFarmOptions {
  dir: string;
  sharedRoot: string;
  /** The scene, relative to the shared root. */
  scene: string;
  frames: number;
  chunk: number;
  agents: number;
  log: Logger;
}

export interface BlenderFarmResult {
  chunks: number;
  /** The job's own wall time from the report: first claim to last commit. */
  jobWallSeconds: number;
  /** Bench clock, submit() to job done (adds dispatch and the first delivery). */
  submitToDoneSeconds: number;
  /** Chunks per agent name. */
  chunksByAgent: Record<string, number>;
  /** Pixel digest by frame, from the committed files. */
  digests: Map<number, string>;
}

export async function runBlenderFarm(o: BlenderFarmOptions): Promise<BlenderFarmResult> {
  const config = compileCoordinatorConfig(
    { dataDir: join(o.dir, "coordinator"), outputRoot: join(o.dir, "output"), modelsDir: BUNDLED_MODELS_DIR, listen: "127.0.0.1:0", sharedRoot: o.sharedRoot },
    BUNDLED_MODELS_DIR,
  );
  const coordinator = await Coordinator.start(config, o.log.child({ role: "coordinator" }));
  const agents: Agent[] = [];
  const stopAll = async (): Promise<void> => {
    for (const a of agents.splice(0)) await a.stop();
    await coordinator.stop();
  };
  try {
    return await cleanupOnInterrupt(stopAll, async () => {
      const kinds = AgentKindsConfigSchema.parse({ sharedRoot: o.sharedRoot });
      for (let i = 0; i < o.agents; i++) {
        const name = `bench-blender-${i + 1}`;
        const { token } = coordinator.trust.tokens.create({ ttlMs: 3_600_000, label: name });
        agents.push(await startEnrolledAgent(coordinator.joinPoint, token, { name, dataDir: join(o.dir, name), modelsDir: BUNDLED_MODELS_DIR, kinds, log: o.log.child({ role: "agent" }) }));
      }
      const spec = {
        name: `blender bench ${o.agents} agent(s)`,
        frames: { start: 1, end: o.frames },
        steps: [{ id: "render", kind: "blender", scene: o.scene }],
        chunking: { mode: "fixed", size: o.chunk },
        output: { framePattern: "frame_{frame:04}.png" },
      };
      const submittedAt = nowSeconds();
      const { jobId } = await coordinator.api.submit(JSON.stringify(spec), o.sharedRoot);
      const job = await coordinator.finisher.waitFor(jobId, AbortSignal.timeout(60 * 60_000));
      const submitToDoneSeconds = nowSeconds() - submittedAt;
      if (job.state !== "done") throw new Error(`blender farm job ${job.id} ended ${job.state}: ${job.message ?? ""}`);
      const report = coordinator.api.report(job.id).jobs[0];
      // The coordinator can see the last commit before its agent has read the upload's reply; stopping the
      // agent then would cancel a call that already succeeded. Let the agents finish their bookkeeping (bounded).
      for (let i = 0; i < 500 && agents.reduce((n, a) => n + a.chunksDone, 0) < (report?.chunks ?? 0); i++) await sleep(10);
      const digests = new Map<number, string>();
      for (const row of coordinator.store.frames.listByJob(job.id)) {
        digests.set(row.frame, pixelDigest(readFileSync(isAbsolute(row.path) ? row.path : join(config.outputRoot, row.path))));
      }
      const chunksByAgent: Record<string, number> = {};
      for (const e of coordinator.store.ledger.listByJob(job.id)) {
        const name = coordinator.store.agents.get(e.agentId)?.name ?? e.agentId;
        chunksByAgent[name] = (chunksByAgent[name] ?? 0) + 1;
      }
      return { chunks: report?.chunks ?? 0, jobWallSeconds: report?.wallSeconds ?? submitToDoneSeconds, submitToDoneSeconds, chunksByAgent, digests };
    });
  } finally {
    await stopAll();
  }
}
