import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, realpathSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { test } from "node:test";
import type { Agent } from "../../agent/agent.ts";
import { AgentKindsConfigSchema } from "../../agent/config/agent-kinds-config.ts";
import type { Coordinator } from "../../coordinator/coordinator.ts";
import { eventually } from "../helpers/eventually.ts";
import { startLocalAgent } from "../helpers/local-agent.ts";
import { blenderMissing, buildBlenderScene, pixelDigest, renderReference } from "../support/blender-scene.ts";
import { startTestCoordinator, tempDir } from "../support/farm.ts";
import { processesWithArg } from "../support/process-table.ts";

/**
 * A `kind: blender` job on a real farm on loopback: coordinator (embedded
 * nats-server, SQLite, gRPC sink) and two agents that find the scene under
 * the shared root. Every committed frame has the pixels of one plain
 * `blender -b -a` render; a cancel ends the agents' Blender processes and
 * commits nothing of the cancelled attempts, not even frames already uploaded.
 */

const FRAMES = 8;

function blenderJob(name: string, scene: string, frames: number, chunk: number): string {
  return JSON.stringify({
    name,
    frames: { start: 1, end: frames },
    steps: [{ id: "render", kind: "blender", scene }],
    chunking: { mode: "fixed", size: chunk },
    output: { framePattern: "frame_{frame:04}.png" },
  });
}

test("a Blender job across two agents: frames equal a plain render; cancel ends Blender and commits nothing partial", { skip: blenderMissing() }, async (t) => {
  // One hook, registered first so that it runs first: agents stop, then the coordinator, and only then
  // is the folder removed (the helpers' own hooks run later and find everything stopped).
  const held: { agents: Agent[]; coordinator?: Coordinator } = { agents: [] };
  t.after(async () => {
    for (const agent of held.agents) await agent.stop();
    await held.coordinator?.stop();
  });
  const dir = tempDir(t, "nightshift-blender-farm-");
  const root = realpathSync(join(dir));
  const scene = await buildBlenderScene(join(root, "shots"), { frames: FRAMES });
  const reference = await renderReference(scene);
  const coordinator = await startTestCoordinator(t, dir, { sharedRoot: root });
  held.coordinator = coordinator;
  const kinds = AgentKindsConfigSchema.parse({ sharedRoot: root });
  held.agents.push(await startLocalAgent(t, coordinator, dir, "render-a", { kinds }));
  held.agents.push(await startLocalAgent(t, coordinator, dir, "render-b", { kinds }));
  const outputRoot = join(dir, "output");

  await t.test("every frame of the job has the reference render's pixels, rendered on both agents", async () => {
    const { jobId } = await coordinator.api.submit(blenderJob("sh010 lighting", "shots/scene.blend", FRAMES, 2), root);
    const job = await coordinator.finisher.waitFor(jobId, AbortSignal.timeout(10 * 60_000));
    assert.equal(job.state, "done", job.message ?? "");
    const rows = coordinator.store.frames.listByJob(jobId);
    assert.deepEqual(rows.map((r) => r.frame).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8]);
    for (const row of rows) {
      const file = isAbsolute(row.path) ? row.path : join(outputRoot, row.path);
      assert.match(file, /frame_000\d\.png$/);
      assert.equal(pixelDigest(readFileSync(file)), reference.get(row.frame), `frame ${row.frame} differs from the reference render`);
    }
    const agents = new Set(coordinator.store.ledger.listByJob(jobId).map((e) => e.agentId));
    assert.equal(agents.size, 2, "both agents rendered chunks");
  });

  await t.test("cancel mid-render ends Blender at once and commits no frame, not even those already uploaded", async () => {
    // Frames 2 and 4 take a million samples: each chunk's first frame is made and uploaded, its second never ends.
    const stall = await buildBlenderScene(join(root, "stall"), { frames: 4, stallFrames: [2, 4] });
    const { jobId } = await coordinator.api.submit(blenderJob("sh020 stall", "stall/scene.blend", 4, 2), root);
    await eventually(
      () => {
        const running = coordinator.api.job(jobId).agents.filter((a) => a.chunkId !== "");
        return running.length === 2 && running.every((a) => a.chunkFramesDone >= 1);
      },
      "both agents to upload their chunk's first frame",
      5 * 60_000,
      100,
    );
    assert.equal(processesWithArg(stall.path).length, 2, `two Blender processes render the stalled job: ${JSON.stringify(coordinator.api.job(jobId))}`);
    const cancelledAt = performance.now();
    coordinator.api.cancel(jobId);
    await eventually(() => processesWithArg(stall.path).length === 0, "Blender to end after the cancel", 10_000, 20);
    const ms = performance.now() - cancelledAt;
    process.stderr.write(`# blender ended ${Math.round(ms)} ms after the cancel\n`);
    assert.equal(coordinator.api.job(jobId).state, "cancelled");
    assert.deepEqual(coordinator.store.frames.listByJob(jobId), []);
    const out = coordinator.api.job(jobId).outputDir;
    const files = existsSync(out) ? readdirSync(out, { recursive: true }).map(String) : [];
    assert.deepEqual(files.filter((f) => f.endsWith(".png")), [], "no frame of the cancelled job in its output folder");
  });
});
