import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { PROJECT_ROOT } from "../../cli/paths.ts";

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listFiles(p));
    else out.push(p);
  }
  return out.sort();
}

test("committed proto/gen matches what `npm run proto` generates from proto/*.proto", (t) => {
  const out = mkdtempSync(join(tmpdir(), "ns-proto-"));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  // Same buf.gen.yaml, output redirected to a temp dir.
  const template = readFileSync(join(PROJECT_ROOT, "buf.gen.yaml"), "utf8").replace("out: proto/gen", `out: ${out}`);
  const templatePath = join(out, "buf.gen.yaml");
  writeFileSync(templatePath, template);
  const buf = join(PROJECT_ROOT, "node_modules/.bin/buf");
  const r = spawnSync(buf, ["generate", "--template", templatePath], { cwd: PROJECT_ROOT, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const generated = listFiles(out).filter((f) => f.endsWith(".ts"));
  const committedDir = join(PROJECT_ROOT, "proto/gen");
  const committed = listFiles(committedDir);
  assert.deepEqual(
    generated.map((f) => relative(out, f)),
    committed.map((f) => relative(committedDir, f)),
    "same set of generated files",
  );
  for (const f of generated) {
    const rel = relative(out, f);
    assert.equal(readFileSync(f, "utf8"), readFileSync(join(committedDir, rel), "utf8"), `proto/gen/${rel} is out of date: run npm run proto`);
  }
});
