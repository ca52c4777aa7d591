import assert from "node:assert/strict";
import { test } from "node:test";
import type { JobView } from "../../proto/gen/nightshift/v1/control.ts";
import { formatEta, renderProgress, renderWatch } from "../../cli/commands/watch-render.ts";

function view(o: Partial<JobView> = {}): JobView {
  return {
    id: "job_1", name: "ep03", state: "running", framesTotal: 200, framesDone: 104, chunksTotal: 25, chunksDone: 13, chunksFailed: 0,
    outputDir: "/out", videoPath: "", message: "", createdAtMs: 0, finishedAtMs: 0, priority: 0, failedFrames: [], blocklistedAgents: [],
    agents: [], framesPerSecond: 0, etaSeconds: -1, startedAtMs: 0, steps: [], recipeSha256: "", ...o,
  };
}

test("ETA formatting: seconds, minutes, hours, unknown", () => {
  assert.deepEqual([formatEta(0), formatEta(39.4), formatEta(245), formatEta(3720), formatEta(-1), formatEta(Infinity)], ["0s", "39s", "4m 05s", "1h 02m", "?", "?"]);
});

test("watch: a bar for the job with frames/s and ETA, and one per agent with its chunk, speed and chunk ETA", () => {
  const lines = renderWatch(
    view({
      framesPerSecond: 24.56,
      etaSeconds: 39,
      agents: [
        { agentId: "a1", name: "gpu-4090", framesDone: 80, framesPerSecond: 18.2, chunkId: "c12", chunkFramesDone: 6, chunkFramesTotal: 8, etaSeconds: 0.4, speculative: false, frameDetail: "" },
        { agentId: "a2", name: "gpu-1080", framesDone: 24, framesPerSecond: 6.3, chunkId: "c11", chunkFramesDone: 2, chunkFramesTotal: 8, etaSeconds: 1, speculative: true, frameDetail: "frame 5: Sample 32/64" },
        { agentId: "a3", name: "laptop", framesDone: 0, framesPerSecond: 0, chunkId: "", chunkFramesDone: 0, chunkFramesTotal: 0, etaSeconds: -1, speculative: false, frameDetail: "" },
      ],
    }),
    20,
  );
  assert.deepEqual(lines, [
    "job_1  ep03  running  [##########----------]  52%  104/200 frames",
    "  24.6 frames/s  ETA 39s",
    "  agent     chunk                 frames   frames/s  chunk ETA",
    "  gpu-4090  [########--]     6/8  80       18.2      0s",
    "  gpu-1080  [###-------]     2/8  24       6.3       1s (copy)  frame 5: Sample 32/64",
    "  laptop    idle                  0        ?",
  ]);
});

test("watch: a held job shows its message; a finished job shows no ETA; the one-line form is unchanged", () => {
  assert.deepEqual(renderWatch(view({ state: "queued", framesDone: 0, message: "waiting for window.notBefore 22:00" }), 10), [
    "job_1  ep03  queued  [----------]   0%  0/200 frames",
    "  ETA ?",
    "  waiting for window.notBefore 22:00",
  ]);
  assert.deepEqual(renderWatch(view({ state: "done", framesDone: 200, etaSeconds: 0 }), 10), ["job_1  ep03  done  [##########] 100%  200/200 frames"]);
  assert.equal(renderProgress(view(), 10), "job_1 [#####-----] 104/200 frames  running");
});
