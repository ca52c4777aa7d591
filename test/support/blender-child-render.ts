/**
 * A stand-in agent process for the test that kills an agent outright: renders
 * frames 1..3 of `SCENE` (relative to `ROOT`) with a million samples through
 * the Blender executor into `WORKDIR`, prints `sampling` once Blender is
 * sampling, then waits to be killed.
 *
 *   node --import tsx test/support/blender-child-render.ts ROOT SCENE SHA256 WORKDIR
 */
import { BlenderExecutorFactory } from "../../agent/executors/blender/blender-factory.ts";
import { silentLogger } from "../../shared/log.ts";

const [root, scene, sceneSha256, workDir] = process.argv.slice(2);
if (root === undefined || scene === undefined || sceneSha256 === undefined || workDir === undefined) throw new Error("usage: ROOT SCENE SHA256 WORKDIR");
const executor = await new BlenderExecutorFactory({ sharedRoot: root }).create(
  { id: "render", kind: "blender", scene, sceneSha256, engine: null, samples: 1_000_000, resolution: null, percentage: null, version: null },
  { log: silentLogger() },
);
let told = false;
const frames = executor.run({
  jobId: "job",
  chunkId: "chunk",
  attemptId: "attempt",
  frames: [1, 2, 3],
  seed: 0,
  readFrame: () => Promise.reject(new Error("no input")),
  signal: new AbortController().signal,
  workDir,
  onProgress: (p) => {
    if (told || p.fraction === 0) return;
    told = true;
    process.stdout.write("sampling\n");
  },
});
for await (const frame of frames) process.stdout.write(`frame ${frame.index}\n`);
