import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BadInputError } from "../../shared/errors.ts";
import { checkAgainstInput, checkModelsAvailable, parseByteSize, validateJobSpec } from "../../shared/job-spec/index.ts";

const video = (frames?: { start: number; end: number }) =>
  validateJobSpec({
    name: "v",
    input: { type: "video", path: "v.mp4" },
    ...(frames === undefined ? {} : { frames }),
    steps: [
      { id: "a", kind: "model", model: "demo-invert" },
      { id: "b", kind: "temporal", model: "demo-blur", window: 3 },
      { id: "c", kind: "assemble" },
    ],
  });

function throwsBadInput(fn: () => unknown, message: string, field: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof BadInputError);
    assert.equal(err.message, message);
    assert.equal(err.field, field);
    return true;
  });
}

describe("checkAgainstInput", () => {
  it("returns all input frames when the spec gives no range", () => {
    assert.deepEqual(checkAgainstInput(video(), 48), { start: 0, end: 47 });
  });

  it("returns the spec's range when it fits", () => {
    assert.deepEqual(checkAgainstInput(video({ start: 10, end: 47 }), 48), { start: 10, end: 47 });
  });

  it("refuses a range past the input, naming the field", () => {
    throwsBadInput(() => checkAgainstInput(video({ start: 0, end: 60 }), 48), "frames.end: 60 is past the last input frame 47", "frames.end");
    throwsBadInput(() => checkAgainstInput(video({ start: 50, end: 60 }), 48), "frames.start: 50 is past the last input frame 47", "frames.start");
  });

  it("refuses an empty input and an input too long for one job", () => {
    throwsBadInput(() => checkAgainstInput(video(), 0), "input: has no frames (counted 0)", "input");
    throwsBadInput(
      () => checkAgainstInput(video(), 1_000_001),
      "frames: the input has 1000001 frames, more than the 1000000 one job may have; give a frames range",
      "frames",
    );
    assert.deepEqual(checkAgainstInput(video({ start: 0, end: 999 }), 2_000_000), { start: 0, end: 999 });
  });
});

describe("checkModelsAvailable", () => {
  it("accepts known models and ignores the assemble step", () => {
    assert.doesNotThrow(() => checkModelsAvailable(video(), ["demo-blur", "demo-invert"]));
  });

  it("names each unknown model's step and lists what is available", () => {
    throwsBadInput(
      () => checkModelsAvailable(video(), ["demo-upscale", "demo-blur"]),
      "job spec: steps[0].model: unknown model 'demo-invert'; available: demo-blur, demo-upscale",
      "steps[0].model",
    );
    throwsBadInput(
      () => checkModelsAvailable(video(), []),
      "job spec: steps[0].model: unknown model 'demo-invert'; available: (none); steps[1].model: unknown model 'demo-blur'; available: (none)",
      "steps[0].model",
    );
  });
});

describe("parseByteSize", () => {
  it("reads binary and decimal units, any case, with or without a space", () => {
    const cases: Array<[string, number]> = [
      ["8GiB", 8589934592],
      ["8 gib", 8589934592],
      ["512MiB", 536870912],
      ["1.5GiB", 1610612736],
      ["12GB", 12e9],
      ["4096B", 4096],
      ["2 KiB", 2048],
      ["1TB", 1e12],
    ];
    for (const [text, bytes] of cases) assert.deepEqual(parseByteSize(text), { ok: true, bytes }, text);
  });

  it("refuses sizes without a clear unit", () => {
    for (const text of ["8G", "8", "GiB", "-1GiB", "8 GiB extra", ""]) {
      assert.equal(parseByteSize(text).ok, false, text);
    }
  });
});
