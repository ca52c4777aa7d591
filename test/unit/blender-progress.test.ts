import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { blenderArgs, blenderPrelude, frameOfOutput, outputPattern } from "../../agent/executors/blender/blender-command.ts";
import { BlenderErrorLine } from "../../agent/executors/blender/blender-error-line.ts";
import { contiguousRuns } from "../../agent/executors/blender/blender-executor.ts";
import { parseBlenderVersion } from "../../agent/executors/blender/blender-probe.ts";
import { parseBlenderLine, type BlenderLine } from "../../agent/executors/blender/blender-progress.ts";
import type { BlenderWorkStep } from "../../shared/steps/work-step.ts";

const fixtures = join(import.meta.dirname, "..", "fixtures", "blender");
const lines = (name: string): string[] => readFileSync(join(fixtures, name), "utf8").split("\n");
const parsed = (name: string): BlenderLine[] => lines(name).flatMap((l) => parseBlenderLine(l) ?? []);

test("Cycles 3.4 lines give each frame's samples, its end and the saved file, in order", () => {
  assert.deepEqual(parsed("cycles-3.4.1.log"), [
    { type: "progress", frame: 1, fraction: 0, detail: "Sample 0/8" },
    { type: "progress", frame: 1, fraction: 1 / 8, detail: "Sample 1/8" },
    { type: "progress", frame: 1, fraction: 1, detail: "Sample 8/8" },
    { type: "progress", frame: 1, fraction: 1, detail: "Finished" },
    { type: "saved", path: "/tmp/bl/fx/frame_0000001.png" },
    { type: "progress", frame: 2, fraction: 0, detail: "Sample 0/8" },
    { type: "progress", frame: 2, fraction: 1 / 8, detail: "Sample 1/8" },
    { type: "progress", frame: 2, fraction: 1, detail: "Sample 8/8" },
    { type: "progress", frame: 2, fraction: 1, detail: "Finished" },
    { type: "saved", path: "/tmp/bl/fx/frame_0000002.png" },
  ]);
});

test("EEVEE 3.4 lines give 'Rendering N / M samples' as progress", () => {
  assert.deepEqual(parsed("eevee-3.4.1.log"), [
    { type: "progress", frame: 1, fraction: 1 / 4, detail: "Rendering 1 / 4 samples" },
    { type: "progress", frame: 1, fraction: 1, detail: "Rendering 4 / 4 samples" },
    { type: "saved", path: "/tmp/bl/ee/frame_0001.png" },
  ]);
});

test("older and newer forms: tiles before the sample count, double-quoted Saved", () => {
  assert.deepEqual(parseBlenderLine("Fra:7 Mem:1M (Peak 2M) | Time:00:01.00 | Scene, RenderLayer | Rendered 3/16 Tiles, Sample 32/64"), {
    type: "progress",
    frame: 7,
    fraction: 0.5,
    detail: "Rendered 3/16 Tiles, Sample 32/64",
  });
  assert.deepEqual(parseBlenderLine(`Saved: "/x/frame_0000003.png"`), { type: "saved", path: "/x/frame_0000003.png" });
  assert.equal(parseBlenderLine("Fra:1 Mem:9.19M (Peak 10.33M) | Time:00:00.28 | Scene, ViewLayer | Updating Scene BVH | Building BVH 0%"), null);
  assert.equal(parseBlenderLine("Fra:1 Mem:1M | Sample 0/0"), null);
});

test("Blender's own error line: the exception of a Python traceback, else the first 'Error:' line", () => {
  const pick = (name: string): string | null => {
    const e = new BlenderErrorLine();
    for (const l of lines(name)) e.push(l);
    return e.line;
  };
  assert.equal(pick("python-error-3.4.1.log"), "RuntimeError: boom");
  assert.equal(pick("missing-scene-3.4.1.log"), "Error: Cannot read file '/tmp/bl/nothere.blend': No such file or directory");
  assert.equal(pick("no-camera-3.4.1.log"), "Error: Cannot render, no camera");
  assert.equal(pick("cycles-3.4.1.log"), null);
  assert.equal(pick("eevee-3.4.1.log"), null, "EGL's 'EGL Error (0x3001)' lines are not Blender errors");
});

test("the version comes from the first line of `blender --version`", () => {
  assert.equal(parseBlenderVersion("Blender 3.4.1\n\tbuild date: unknown\n"), "3.4.1");
  assert.equal(parseBlenderVersion("Blender 4.2\n"), "4.2");
  assert.equal(parseBlenderVersion("blender: command not found"), null);
});

const step: BlenderWorkStep = {
  id: "render",
  kind: "blender",
  scene: "shots/sh010.blend",
  sceneSha256: "0".repeat(64),
  engine: "cycles",
  samples: 64,
  resolution: null,
  percentage: 50,
  version: null,
};

test("the command line loads the scene, then runs the prelude, then renders first..last", () => {
  const args = blenderArgs("/nas/shots/sh010.blend", "PRELUDE", 11, 20);
  assert.deepEqual(args, ["-b", "--factory-startup", "/nas/shots/sh010.blend", "--python-exit-code", "1", "--python-expr", "PRELUDE", "-s", "11", "-e", "20", "-a"]);
});

/** The settings a prelude carries, read back from its one JSON line. */
function preludeData(prelude: string): Record<string, unknown> {
  const dataLine = prelude.split("\n").filter((l) => l.startsWith("o = json.loads("));
  assert.equal(dataLine.length, 1);
  return JSON.parse(JSON.parse(dataLine[0]!.slice("o = json.loads(".length, -1)) as string) as Record<string, unknown>;
}

test("the prelude carries overrides as JSON data, never as code", () => {
  const hostile: BlenderWorkStep = { ...step, engine: null, samples: null, percentage: null };
  const workDir = "/tmp/a'); import os; os.system('x') #";
  const prelude = blenderPrelude(hostile, workDir);
  assert.deepEqual(preludeData(prelude), { engine: null, samples: null, resolution: null, percentage: null, output: `${workDir}/frame_#######`, format: "PNG" });
  assert.equal(prelude.split("\n").filter((l) => l.includes("os.system")).length, 1, "only inside the JSON literal");
  const withOverrides = preludeData(blenderPrelude(step, "/w"));
  assert.equal(withOverrides.engine, "CYCLES");
  assert.equal(withOverrides.samples, 64);
  assert.equal(withOverrides.percentage, 50);
  assert.match(prelude, /use_denoising = False/);
  assert.equal(preludeData(blenderPrelude({ ...step, format: "exr" }, "/w")).format, "OPEN_EXR");
});

test("output files map back to frame numbers; chunks split into contiguous runs", () => {
  assert.equal(outputPattern("/w/a"), "/w/a/frame_#######");
  assert.equal(frameOfOutput("/w/a/frame_0000012.png"), 12);
  assert.equal(frameOfOutput("/w/a/frame_12345678.png"), 12345678);
  assert.equal(frameOfOutput("/w/a/other_0000012.png"), null);
  assert.equal(frameOfOutput("/w/a/frame_0000012.exr"), 12);
  assert.equal(frameOfOutput("/w/a/frame_0000012.jpg"), null);
  assert.deepEqual(contiguousRuns([1, 2, 3, 7, 8, 10]), [[1, 3], [7, 8], [10, 10]]);
  assert.deepEqual(contiguousRuns([]), []);
});
