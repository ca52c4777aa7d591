// What scripts/build.mjs bundles into dist/ and what it leaves in node_modules (scripts/build-externals.mjs), and the
// licence file it writes for what it bundles (scripts/build-licences.mjs), on a made-up node_modules with esbuild itself.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { build, type Metafile, type Plugin } from "esbuild";
import { PROJECT_ROOT } from "../../cli/paths.ts";

interface Externals {
  externalsPlugin(modulesDir: string): Plugin;
  checkBundledByPath(metafile: Metafile, root: string): void;
}
interface Licences {
  writeThirdPartyLicences(metafile: Metafile, root: string, file: string): string[];
}
const script = async <T>(name: string): Promise<T> => (await import(pathToFileURL(join(PROJECT_ROOT, "scripts", name)).href)) as T;

/** A project folder with node_modules holding the given files (path under node_modules -> text). */
function project(t: TestContext, files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "nightshift-bundling-"));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

const pkg = (name: string, extra: Record<string, string> = {}): Record<string, string> => ({
  [`node_modules/${name}/package.json`]: JSON.stringify({ name, version: "1.2.3", license: "MIT", main: "index.js" }),
  [`node_modules/${name}/index.js`]: `module.exports = { name: ${JSON.stringify(name)} };\n`,
  [`node_modules/${name}/LICENSE`]: `The ${name} licence text\n`,
  ...Object.fromEntries(Object.entries(extra).map(([p, text]) => [`node_modules/${name}/${p}`, text])),
});

async function bundle(root: string, entry: string): Promise<{ metafile: Metafile; out: string }> {
  const { externalsPlugin } = await script<Externals>("build-externals.mjs");
  writeFileSync(join(root, "entry.js"), entry);
  const r = await build({ absWorkingDir: root, entryPoints: ["entry.js"], outdir: join(root, "out"), bundle: true, format: "esm", platform: "node", plugins: [externalsPlugin(join(root, "node_modules"))], metafile: true, logLevel: "silent" });
  return { metafile: r.metafile, out: readFileSync(join(root, "out", "entry.js"), "utf8") };
}

test("a pure-JS package is bundled; a package with a compiled binding, or one named as native, stays an import from node_modules", async (t) => {
  const root = project(t, { ...pkg("pure"), ...pkg("with-binding", { "build/Release/addon.node": "not really ELF" }), ...pkg("with-gyp", { "binding.gyp": "{}" }), ...pkg("better-sqlite3") });
  const { metafile, out } = await bundle(root, 'import a from "pure"; import b from "with-binding"; import c from "with-gyp"; import d from "better-sqlite3"; console.log(a, b, c, d);\n');
  assert.ok(Object.keys(metafile.inputs).includes("node_modules/pure/index.js"), "pure is bundled");
  assert.match(out, /name: "pure"/);
  for (const name of ["with-binding", "with-gyp", "better-sqlite3"]) {
    assert.match(out, new RegExp(`from "${name}"`), `${name} stays an import`);
    assert.ok(!Object.keys(metafile.inputs).some((i) => i.includes(`node_modules/${name}/`)), `${name} is not bundled`);
  }
});

test("a bundled package file that reads its own location fails the build, naming the file; an allowed one passes", async (t) => {
  const root = project(t, { ...pkg("reads-itself", { "index.js": 'module.exports = require("node:path").join(__dirname, "data.bin");\n' }), ...pkg("commander", { "lib/command.js": "// program.executableDir(__dirname)\nmodule.exports = 1;\n", "index.js": 'module.exports = require("./lib/command.js");\n' }) });
  const { checkBundledByPath } = await script<Externals>("build-externals.mjs");
  const bad = await bundle(root, 'import a from "reads-itself"; console.log(a);\n');
  assert.throws(() => checkBundledByPath(bad.metafile, root), /reads-itself\/index\.js/);
  const allowed = await bundle(root, 'import a from "commander"; console.log(a);\n');
  checkBundledByPath(allowed.metafile, root);
});

test("the licence file names every bundled package with its licence text, takes a source notice where a package ships no licence file, and refuses a package with neither", async (t) => {
  const noFile = pkg("notice-only", { "index.js": "// Copyright 2026 Someone\n// Licensed under the Apache License, Version 2.0\nmodule.exports = 2;\n" });
  delete noFile["node_modules/notice-only/LICENSE"];
  const bare = pkg("bare", { "index.js": "module.exports = 3;\n" });
  delete bare["node_modules/bare/LICENSE"];
  const root = project(t, { ...pkg("pure"), ...noFile, ...bare });
  const { writeThirdPartyLicences } = await script<Licences>("build-licences.mjs");
  const file = join(root, "THIRD-PARTY-LICENSES.txt");
  const ok = await bundle(root, 'import a from "pure"; import b from "notice-only"; console.log(a, b);\n');
  assert.deepEqual(writeThirdPartyLicences(ok.metafile, root, file), ["notice-only", "pure"]);
  const text = readFileSync(file, "utf8");
  assert.match(text, /pure@1\.2\.3 \(MIT\)[\s\S]*The pure licence text/);
  assert.match(text, /notice-only@1\.2\.3 \(MIT\)[\s\S]*Copyright 2026 Someone/);
  const refused = await bundle(root, 'import c from "bare"; console.log(c);\n');
  assert.throws(() => writeThirdPartyLicences(refused.metafile, root, file), /bare .*no licence file or notice/);
});
