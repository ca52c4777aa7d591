import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { BadInputError } from "../../shared/errors.ts";
import { checkRelativePath, parseTemplate, renderTemplate, resolveUnderRoot } from "../../shared/safe-path.ts";

function throwsBadInput(fn: () => unknown, message: RegExp, field: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof BadInputError, String(err));
    assert.match(err.message, message);
    assert.equal(err.field, field);
    return true;
  });
}

describe("renderTemplate", () => {
  it("fills variables and zero-pads numbers", () => {
    assert.equal(renderTemplate("{job}/frame_{frame:06}.png", { job: "job_1", frame: 42 }), "job_1/frame_000042.png");
    assert.equal(renderTemplate("{frame}-{frame:02}-{frame:03}", { frame: 1234 }), "1234-1234-1234");
    assert.equal(renderTemplate("shot_{shot:03}/{{literal}}", { shot: 7 }), "shot_007/{literal}");
    assert.equal(renderTemplate("plain.png", {}), "plain.png");
  });

  it("refuses unknown variables and bad syntax, naming the field", () => {
    throwsBadInput(() => renderTemplate("{jobb}/", { job: "j" }, "output.path"), /^output\.path: unknown variable \{jobb\}; known: \{job\}$/, "output.path");
    throwsBadInput(() => renderTemplate("{job", { job: "j" }, "output.path"), /never closed/, "output.path");
    throwsBadInput(() => renderTemplate("a}b", {}, "f"), /no matching '\{'/, "f");
    throwsBadInput(() => renderTemplate("{Frame:6}", { frame: 1 }, "f"), /'\{Frame:6\}' is not a variable/, "f");
  });

  it("refuses values that are not one path segment", () => {
    for (const name of ["a/b", "a\\b", "", "a\0b"]) {
      throwsBadInput(() => renderTemplate("{name}/", { name }, "output.path"), /cannot be one path segment/, "output.path");
    }
    throwsBadInput(() => renderTemplate("{frame:04}", { frame: -1 }, "f"), /must be a whole number/, "f");
    throwsBadInput(() => renderTemplate("{frame}", { frame: 1.5 }, "f"), /must be a whole number/, "f");
  });

  it("lists the variables a template uses", () => {
    const parsed = parseTemplate("{job}/{shot:03}/{frame:06}_{job}.png");
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.variables, ["job", "shot", "frame"]);
  });
});

describe("checkRelativePath", () => {
  it("normalizes safe relative paths", () => {
    assert.equal(checkRelativePath("a/./b//c.png", "f"), "a/b/c.png");
    assert.equal(checkRelativePath("job_1/", "f"), "job_1/");
    assert.equal(checkRelativePath("..a/b..", "f"), "..a/b..");
  });

  it("refuses '..', absolute paths, NUL, backslashes and the root itself", () => {
    const cases: Array<[string, RegExp]> = [
      ["../x", /must not contain '\.\.'/],
      ["a/../../x", /must not contain '\.\.'/],
      ["a/..", /must not contain '\.\.'/],
      ["/etc/passwd", /must be relative/],
      ["a\0b", /NUL/],
      ["a\\..\\b", /backslashes/],
      ["", /must not be empty/],
      [".", /not the root itself/],
      ["./", /not the root itself/],
    ];
    for (const [relative, message] of cases) throwsBadInput(() => checkRelativePath(relative, "output.path"), message, "output.path");
  });
});

describe("resolveUnderRoot", () => {
  let dir: string;
  let root: string;
  before(() => {
    dir = realpathSync(mkdtempSync(path.join(tmpdir(), "nightshift-safepath-")));
    root = path.join(dir, "root");
    mkdirSync(path.join(root, "jobs", "inside"), { recursive: true });
    mkdirSync(path.join(dir, "outside"));
    symlinkSync(path.join(dir, "outside"), path.join(root, "escape"));
    symlinkSync(path.join(root, "jobs", "inside"), path.join(root, "alias"));
    symlinkSync(path.join(dir, "missing-target"), path.join(root, "dangling"));
    symlinkSync("../..", path.join(root, "jobs", "up"));
    // A sibling whose name starts with the root's name: a plain prefix test would take it for inside.
    mkdirSync(path.join(dir, "root-evil"));
    symlinkSync(path.join(dir, "root-evil"), path.join(root, "sibling"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("returns absolute paths under the root, existing or not", () => {
    assert.equal(resolveUnderRoot(root, "jobs/inside/f.png", "f"), path.join(root, "jobs/inside/f.png"));
    assert.equal(resolveUnderRoot(root, "new/deeper/f.png", "f"), path.join(root, "new/deeper/f.png"));
    assert.equal(resolveUnderRoot(root, "jobs", "f"), path.join(root, "jobs"));
  });

  it("follows symlinks that stay inside the root", () => {
    assert.equal(resolveUnderRoot(root, "alias/new/f.png", "f"), path.join(root, "jobs/inside/new/f.png"));
  });

  it("refuses a symlink that leads out of the root, however deep", () => {
    throwsBadInput(() => resolveUnderRoot(root, "escape/f.png", "output.path"), /leaves the output root through a symlink/, "output.path");
    throwsBadInput(() => resolveUnderRoot(root, "escape", "output.path"), /leaves the output root/, "output.path");
    throwsBadInput(() => resolveUnderRoot(root, "jobs/up/outside/x", "output.path"), /leaves the output root/, "output.path");
  });

  it("refuses a symlink into a sibling folder whose name starts with the root's name (root-evil beside root)", () => {
    throwsBadInput(() => resolveUnderRoot(root, "sibling/f.png", "output.path"), /leaves the output root through a symlink/, "output.path");
    throwsBadInput(() => resolveUnderRoot(root, "sibling", "output.path"), /leaves the output root/, "output.path");
  });

  it("refuses a broken symlink, which a write would follow anywhere", () => {
    throwsBadInput(() => resolveUnderRoot(root, "dangling", "f"), /passes through a broken symlink/, "f");
    throwsBadInput(() => resolveUnderRoot(root, "dangling/x.png", "f"), /broken symlink/, "f");
  });

  it("refuses lexical escapes before touching the disk", () => {
    throwsBadInput(() => resolveUnderRoot(root, "../outside/x", "output.path"), /must not contain '\.\.'/, "output.path");
    throwsBadInput(() => resolveUnderRoot(root, path.join(dir, "outside"), "output.path"), /must be relative/, "output.path");
  });

  it("works when the root itself is reached through a symlink", () => {
    const link = path.join(dir, "root-link");
    symlinkSync(root, link);
    assert.equal(resolveUnderRoot(link, "jobs/x.png", "f"), path.join(root, "jobs/x.png"));
    throwsBadInput(() => resolveUnderRoot(link, "escape/x", "f"), /leaves the output root/, "f");
  });

  it("refuses a root that does not exist", () => {
    throwsBadInput(() => resolveUnderRoot(path.join(dir, "no-root"), "x", "f"), /output root .* does not exist/, "outputRoot");
  });
});
