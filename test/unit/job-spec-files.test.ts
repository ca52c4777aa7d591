import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { BadInputError } from "../../shared/errors.ts";
import { parseJobFile, type JobSpec } from "../../shared/job-spec/index.ts";

const jobs = fileURLToPath(new URL("../fixtures/jobs/", import.meta.url));
const fixture = (name: string) => path.join(jobs, name);

async function refusedFile(file: string): Promise<BadInputError> {
  try {
    await parseJobFile(file);
  } catch (err) {
    assert.ok(err instanceof BadInputError, `expected BadInputError, got ${String(err)}`);
    return err;
  }
  assert.fail(`expected ${file} to be refused`);
}

describe("parseJobFile: example jobs", () => {
  it("reads the demo job", async () => {
    const spec = await parseJobFile(fixture("demo.yaml"));
    assert.equal(spec.name, "demo");
    assert.deepEqual(spec.frames, { start: 0, end: 47 });
    assert.deepEqual(spec.chunking, { mode: "fixed", size: 8 });
  });

  it("reads the full-featured YAML job with every field compiled", async () => {
    const expected: JobSpec = {
      name: "Episode 3 denoise",
      priority: 10,
      seed: 1234,
      input: { type: "video", path: "footage/ep03.mp4" },
      frames: { start: 100, end: 2499 },
      fps: 23.976,
      fpsSource: "spec",
      steps: [
        {
          id: "denoise",
          kind: "model",
          model: "demo-denoise",
          modelSha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        },
        { id: "smooth", kind: "temporal", model: "demo-temporal-blur", modelSha256: null, window: 5, overlap: 2 },
        { id: "video", kind: "assemble", after: ["denoise", "smooth"], codec: "h264", crf: 20 },
      ],
      temporal: { window: 5, overlap: 2 },
      chunking: { mode: "shots", source: { kind: "list", path: "shots/ep03.edl" }, maxSize: 96 },
      constraints: { tags: ["cuda", "studio-a"], minVramBytes: 8 * 1024 ** 3 },
      window: { notBefore: "22:00", doneBy: "06:30", notBeforeMinutes: 1320, doneByMinutes: 390 },
      output: { path: "{name}/{job}/", framePattern: "shot_{shot:03}/frame_{frame:06}.png", video: "{name}.mp4" },
    };
    assert.deepEqual(await parseJobFile(fixture("full-featured.yaml")), expected);
  });

  it("reads the JSON job", async () => {
    const spec = await parseJobFile(fixture("full-featured.json"));
    assert.deepEqual(spec.chunking, { mode: "adaptive", targetSeconds: 90, minSize: 8, maxSize: 240 });
    assert.deepEqual(spec.temporal, { window: 7, overlap: 2 });
    assert.equal(spec.constraints.minVramBytes, 4294967296);
  });
});

describe("parseJobFile: bad jobs name the file and the field", () => {
  const cases: Array<[string, string, RegExp]> = [
    ["bad-missing-name.yaml", "name", /bad-missing-name\.yaml: job spec: name: is required$/],
    ["bad-wrong-type.yaml", "steps[0].model", /bad-wrong-type\.yaml: job spec: steps\[0\]\.model: expected a string, got 42$/],
    ["bad-huge-range.yaml", "frames", /job spec: frames: 5000001 frames is more than the 1000000 one job may have/],
    ["bad-dotdot-output.yaml", "output.path", /job spec: output\.path: '\{job\}\/\.\.\/\.\.\/etc\/' must not contain '\.\.'$/],
    ["bad-absolute-output.yaml", "output.path", /job spec: output\.path: '\/etc\/nightshift\/\{job\}' must be relative, not an absolute path$/],
    ["bad-unknown-field.yaml", "prority", /job spec: prority: unknown field \(did you mean 'priority'\?\)$/],
  ];
  for (const [name, field, message] of cases) {
    it(name, async () => {
      const err = await refusedFile(fixture(name));
      assert.equal(err.field, field);
      assert.match(err.message, message);
      assert.ok(err.message.startsWith(fixture(name)), err.message);
    });
  }

  it("refuses YAML that does not parse", async () => {
    const err = await refusedFile(fixture("bad-syntax.yaml"));
    assert.match(err.message, /bad-syntax\.yaml: not valid YAML: .* at line 3, column 1$/);
  });

  describe("file problems", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "nightshift-jobspec-"));
    after(() => rmSync(dir, { recursive: true, force: true }));

    it("refuses a missing file, a wrong extension, bad JSON and duplicate YAML keys", async () => {
      assert.match((await refusedFile(path.join(dir, "nope.yaml"))).message, /nope\.yaml: cannot read the job file \(ENOENT\)/);
      writeFileSync(path.join(dir, "job.txt"), "name: x\n");
      assert.match((await refusedFile(path.join(dir, "job.txt"))).message, /job\.txt: a job file must end in \.yaml, \.yml or \.json/);
      writeFileSync(path.join(dir, "job.json"), "{ name: ");
      assert.match((await refusedFile(path.join(dir, "job.json"))).message, /job\.json: not valid JSON: /);
      writeFileSync(path.join(dir, "dup.yml"), "name: a\nname: b\n");
      assert.match((await refusedFile(path.join(dir, "dup.yml"))).message, /dup\.yml: not valid YAML: Map keys must be unique at line 2, column 1$/);
      assert.match((await refusedFile(dir)).message, /not a file/);
    });

    it("refuses a job file over 1 MiB before parsing it", async () => {
      const big = path.join(dir, "big.yaml");
      writeFileSync(big, `name: x\n# ${"x".repeat(1024 * 1024)}\n`);
      assert.match((await refusedFile(big)).message, /too large for a job file/);
    });
  });
});
