import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BadInputError } from "../../shared/errors.ts";
import { validateJobSpec, type JobSpec } from "../../shared/job-spec/index.ts";

const minimal = {
  name: "demo",
  input: { type: "generated", width: 64, height: 48, frames: 48 },
  steps: [{ id: "invert", kind: "model", model: "demo-invert" }],
};

function with_(patch: Record<string, unknown>): Record<string, unknown> {
  return { ...minimal, ...patch };
}

function refused(raw: unknown): BadInputError {
  try {
    validateJobSpec(raw);
  } catch (err) {
    assert.ok(err instanceof BadInputError, `expected BadInputError, got ${String(err)}`);
    return err;
  }
  assert.fail("expected the spec to be refused");
}

describe("validateJobSpec: defaults", () => {
  it("fills every default of a minimal spec", () => {
    const expected: JobSpec = {
      name: "demo",
      priority: 0,
      seed: 0,
      input: { type: "generated", width: 64, height: 48, frames: 48, fps: null },
      frames: { start: 0, end: 47 },
      fps: 24,
      fpsSource: "default",
      steps: [{ id: "invert", kind: "model", model: "demo-invert", modelSha256: null }],
      temporal: null,
      chunking: { mode: "fixed", size: 8 },
      constraints: { tags: [], minVramBytes: 0 },
      window: { notBefore: null, doneBy: null, notBeforeMinutes: null, doneByMinutes: null },
      output: { path: "{job}/", framePattern: "frame_{frame:06}.png", video: "{job}.mp4" },
    };
    assert.deepEqual(validateJobSpec(minimal), expected);
  });

  it("takes fps from the spec, then the generated input, then 24", () => {
    const input = { type: "generated", width: 8, height: 8, frames: 4, fps: 30 };
    assert.deepEqual(pick(validateJobSpec(with_({ input, fps: 25 }))), { fps: 25, fpsSource: "spec" });
    assert.deepEqual(pick(validateJobSpec(with_({ input }))), { fps: 30, fpsSource: "input" });
    assert.deepEqual(pick(validateJobSpec(with_({ input: { type: "video", path: "a.mp4" } }))), { fps: 24, fpsSource: "default" });
    function pick(s: JobSpec) {
      return { fps: s.fps, fpsSource: s.fpsSource };
    }
  });

  it("compiles temporal overlap, assemble after, sizes and times", () => {
    const spec = validateJobSpec(
      with_({
        steps: [
          { id: "a", kind: "temporal", model: "t1", window: 5 },
          { id: "b", kind: "temporal", model: "t2", window: 3, overlap: 3 },
          { id: "c", kind: "assemble" },
        ],
        constraints: { minVram: "1.5 GiB", tags: ["cuda", "cuda", "fast"] },
        window: { notBefore: "22:00", doneBy: "06:30" },
      }),
    );
    assert.deepEqual(spec.steps, [
      { id: "a", kind: "temporal", model: "t1", modelSha256: null, window: 5, overlap: 2 },
      { id: "b", kind: "temporal", model: "t2", modelSha256: null, window: 3, overlap: 3 },
      { id: "c", kind: "assemble", after: ["a", "b"], codec: "h264", crf: 18 },
    ]);
    assert.deepEqual(spec.temporal, { window: 5, overlap: 5 });
    assert.deepEqual(spec.constraints, { tags: ["cuda", "fast"], minVramBytes: 1610612736 });
    assert.deepEqual(spec.window, { notBefore: "22:00", doneBy: "06:30", notBeforeMinutes: 1320, doneByMinutes: 390 });
  });

  it("compiles the three chunking modes", () => {
    const video = { type: "video", path: "a.mp4" };
    assert.deepEqual(validateJobSpec(with_({ chunking: { mode: "fixed" } })).chunking, { mode: "fixed", size: 8 });
    assert.deepEqual(validateJobSpec(with_({ input: video, chunking: { mode: "shots" } })).chunking, {
      mode: "shots",
      source: { kind: "detect", threshold: 0.3 },
      maxSize: null,
    });
    assert.deepEqual(
      validateJobSpec(with_({ input: video, chunking: { mode: "shots", detect: { threshold: 0.5 }, maxSize: 50 } })).chunking,
      { mode: "shots", source: { kind: "detect", threshold: 0.5 }, maxSize: 50 },
    );
    assert.deepEqual(validateJobSpec(with_({ chunking: { mode: "shots", shotList: "s.edl" } })).chunking, {
      mode: "shots",
      source: { kind: "list", path: "s.edl" },
      maxSize: null,
    });
    assert.deepEqual(validateJobSpec(with_({ chunking: { mode: "adaptive", minSize: 4, maxSize: 64 } })).chunking, {
      mode: "adaptive",
      targetSeconds: 60,
      minSize: 4,
      maxSize: 64,
    });
  });

  it("lower-cases a model sha256 and leaves video frames to the input", () => {
    const sha = "AB".repeat(32);
    const spec = validateJobSpec(
      with_({ input: { type: "video", path: "v.mp4" }, steps: [{ id: "m", kind: "model", model: "x", modelSha256: sha }] }),
    );
    assert.equal(spec.steps[0]?.kind === "model" && spec.steps[0].modelSha256, "ab".repeat(32));
    assert.equal(spec.frames, null);
  });

  it("survives a JSON round trip unchanged", () => {
    const spec = validateJobSpec(with_({ chunking: { mode: "shots", shotList: "s.csv" } }));
    assert.deepEqual(JSON.parse(JSON.stringify(spec)), spec);
  });
});

describe("validateJobSpec: errors name the field", () => {
  it("reports a wrong type with the dotted path", () => {
    const err = refused(with_({ steps: [{ id: "m", kind: "model", model: 42 }] }));
    assert.equal(err.message, "job spec: steps[0].model: expected a string, got 42");
    assert.equal(err.field, "steps[0].model");
  });

  it("reports a missing field", () => {
    const { name: _name, ...noName } = minimal;
    const err = refused(noName);
    assert.equal(err.message, "job spec: name: is required");
    assert.equal(err.field, "name");
  });

  it("collects several problems into one message, the first few only", () => {
    const err = refused({
      name: "",
      priority: 101,
      seed: -1,
      input: { type: "gen" },
      steps: [],
      fps: 0,
      extra: 1,
    });
    assert.equal(
      err.message,
      "job spec: name: must not be empty; priority: must be at most 100, got 101; seed: must be at least 0, got -1; " +
        "input.type: must be one of 'generated', 'image-sequence', 'video', got 'gen'; fps: must be more than 0, got 0; " +
        "and 2 more problems",
    );
    assert.equal(err.field, "name");
  });

  it("refuses unknown fields at the top level and inside, suggesting a close name", () => {
    assert.equal(refused(with_({ prority: 1 })).message, "job spec: prority: unknown field (did you mean 'priority'?)");
    assert.match(refused(with_({ zzz: 1 })).message, /^job spec: zzz: unknown field; fields are name, priority, seed, input/);
    const inner = refused(with_({ output: { path: "{job}/", pattern: "x" } }));
    assert.equal(inner.message, "job spec: output.pattern: unknown field");
    assert.equal(inner.field, "output.pattern");
  });

  it("refuses a range over 1,000,000 frames and a reversed range", () => {
    const video = { type: "video", path: "v.mp4" };
    const huge = refused(with_({ input: video, frames: { start: 0, end: 1_000_000 } }));
    assert.equal(huge.message, "job spec: frames: 1000001 frames is more than the 1000000 one job may have; split it into several jobs");
    assert.doesNotThrow(() => validateJobSpec(with_({ input: video, frames: { start: 5, end: 1_000_004 } })));
    assert.equal(refused(with_({ frames: { start: 9, end: 3 } })).message, "job spec: frames.end: 3 is before frames.start 9");
    assert.equal(refused(with_({ frames: { start: 0, end: 48 } })).message, "job spec: frames.end: 48 is past the last input frame 47");
  });

  it("checks step ids, references and the assemble step", () => {
    const m = (id: string) => ({ id, kind: "model", model: "x" });
    const msg = (steps: unknown[]) => refused(with_({ steps })).message;
    assert.equal(msg([m("a"), m("a")]), "job spec: steps[1].id: 'a' is already the id of steps[0]");
    assert.equal(msg([{ id: "v", kind: "assemble" }, m("a")]), "job spec: steps[0].kind: the assemble step must be the last step");
    assert.equal(
      msg([m("a"), { id: "v", kind: "assemble" }, { id: "w", kind: "assemble" }]),
      "job spec: steps[2].kind: a job has at most one assemble step; steps[1].kind: the assemble step must be the last step",
    );
    assert.equal(msg([{ id: "v", kind: "assemble" }]), "job spec: steps: needs at least one frame step (model, temporal, blender, command or comfyui)");
    assert.equal(
      msg([m("a"), { id: "v", kind: "assemble", after: ["a", "b", "v"] }]),
      "job spec: steps[1].after[1]: 'b' is not the id of a frame step (ids: a); " +
        "steps[1].after[2]: 'v' is this step itself (ids: a)",
    );
    assert.equal(msg([{ id: "t", kind: "temporal", model: "x", window: 4 }]).startsWith("job spec: steps[0].window: must be odd"), true);
    assert.equal(msg([{ id: "t", kind: "temporal", model: "x", window: 1 }]), "job spec: steps[0].window: must be at least 3, got 1");
    assert.equal(msg([{ id: "t", kind: "upscale", model: "x" }]), "job spec: steps[0].kind: must be one of 'model', 'temporal', 'blender', 'command', 'comfyui', 'assemble', got 'upscale'");
    assert.equal(msg([{ id: "t", kind: "assemble", codec: "h265" }]).startsWith("job spec: steps[0].codec: must be 'h264', got 'h265'"), true);
  });

  it("checks chunking, constraints and window rules", () => {
    const msg = (patch: Record<string, unknown>) => refused(with_(patch)).message;
    assert.equal(msg({ chunking: { mode: "adaptive", minSize: 10, maxSize: 5 } }), "job spec: chunking.maxSize: 5 is less than chunking.minSize 10");
    assert.equal(msg({ chunking: { mode: "adaptive", maxSize: 5 } }), "job spec: chunking.minSize: is required");
    assert.equal(
      msg({ chunking: { mode: "shots", shotList: "a.csv", detect: {} } }),
      "job spec: chunking.detect: give chunking.shotList or chunking.detect, not both",
    );
    assert.equal(
      msg({ chunking: { mode: "shots" } }),
      "job spec: chunking: scene detection needs a video or image-sequence input; give chunking.shotList",
    );
    assert.equal(msg({ chunking: { mode: "shots", detect: { threshold: 2 } } }).includes("chunking.detect.threshold: must be at most 1, got 2"), true);
    assert.match(msg({ constraints: { minVram: "8G" } }), /^job spec: constraints\.minVram: '8G' is not a size/);
    assert.equal(
      msg({ constraints: { minVram: "8GiB", minVramBytes: 1 } }),
      "job spec: constraints.minVram: give constraints.minVram or constraints.minVramBytes, not both",
    );
    assert.equal(msg({ window: { notBefore: "24:00" } }), "job spec: window.notBefore: must be a time of day as HH:MM (00:00 to 23:59)");
    assert.equal(msg({ window: { notBefore: "22:00", doneBy: "22:00" } }), "job spec: window.doneBy: is the same as window.notBefore, which leaves no time to work");
  });

  it("refuses unsafe output templates, naming the field", () => {
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [{ path: "../{job}" }, "output.path", "job spec: output.path: '../{job}' must not contain '..'"],
      [{ path: "/srv/{job}" }, "output.path", "job spec: output.path: '/srv/{job}' must be relative, not an absolute path"],
      [{ path: "a\\{job}" }, "output.path", "job spec: output.path: 'a\\{job}' must not contain backslashes (use '/')"],
      [{ path: "a\0b" }, "output.path", "job spec: output.path: must not contain a NUL character"],
      [{ path: "." }, "output.path", "job spec: output.path: '.' must name something under the root, not the root itself"],
      [{ path: "{frame}/" }, "output.path", "job spec: output.path: {frame} cannot be used here; use {job}, {name}"],
      [{ path: "{job" }, "output.path", "job spec: output.path: '{' at position 0 is never closed"],
      [{ framePattern: "frame.png" }, "output.framePattern", "job spec: output.framePattern: must contain {frame} (or {frame:06}), or every frame would overwrite the same file"],
      [{ framePattern: "{shot}/{frame}.png" }, "output.framePattern", "job spec: output.framePattern: {shot} needs chunking.mode 'shots'"],
      [{ framePattern: "{name:04}_{frame}.png" }, "output.framePattern", "job spec: output.framePattern: {name:04}: only {frame} and {shot} can be zero-padded"],
      [{ video: "{job}/" }, "output.video", "job spec: output.video: '{job}/' must name a file, not end with '/'"],
    ];
    for (const [output, field, message] of cases) {
      const err = refused(with_({ output }));
      assert.equal(err.message, message);
      assert.equal(err.field, field);
    }
  });

  it("checks templates after rendering with the job's name", () => {
    const err = refused(with_({ name: "..", output: { path: "{name}" } }));
    assert.equal(err.message, "job spec: output.path: '..' must not contain '..' (rendered from '{name}')");
    const slash = refused(with_({ name: "a/b", output: { video: "{name}.mp4" } }));
    assert.equal(slash.field, "output.video");
    assert.match(slash.message, /\{name\} is 'a\/b', which cannot be one path segment/);
    assert.equal(refused(with_({ name: ".", output: { path: ".{name}" } })).field, "output.path");
    assert.doesNotThrow(() => validateJobSpec(with_({ name: "..", output: { path: "{job}/" } })));
  });

  it("refuses a root that is not a mapping", () => {
    for (const raw of [null, 3, "name: x", []]) {
      const err = refused(raw);
      assert.match(err.message, /^job spec: expected a mapping of fields, got /);
      assert.equal(err.field, "job spec");
    }
  });
});
