#!/usr/bin/env node
// Packs the offline release: one tarball that `npm install -g --offline TARBALL` installs on a machine with no
// internet and no checkout (deploy/README.md). The repository's package.json does not bundle its dependencies
// (bundleDependencies there made every `npm install` of the checkout crawl); this script stages a copy of the
// package with the built CLI (dist/), the dashboard bundle and the production node_modules already built for
// this machine, marks the copy bundleDependencies and packs it there.
// In the staged copy the bundled packages lose their install scripts: they are built already, and on the
// target machine those scripts would only fetch (onnxruntime-node's CUDA download, better-sqlite3's prebuilt
// binary) or compile. Packages that list `files` get their compiled *.node bindings added to it (npm applies
// a bundled package's own `files`, which leaves out better-sqlite3's build/); the packed list is checked, and
// so is dist/THIRD-PARTY-LICENSES.txt, the licences of the npm packages the build bundled into dist/.
//   node scripts/release-pack.mjs [--out DIR]     (npm run release:pack)
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const at = process.argv.indexOf("--out");
const out = resolve(at > 0 && process.argv[at + 1] ? process.argv[at + 1] : join(root, ".tmp", "release"));
const say = (m) => process.stderr.write(`release-pack: ${m}\n`);
function run(cmd, args, cwd) {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", maxBuffer: 256 * 1024 * 1024, env: { ...process.env, npm_config_fund: "false", npm_config_audit: "false" } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

say("building dist/ and the dashboard bundle");
run(process.execPath, [join(root, "scripts", "build.mjs")], root);

const stage = mkdtempSync(join(tmpdir(), "nightshift-release-"));
try {
  // The package's own files (npm pack applies `files` again; models/fetched is a local download, never shipped).
  for (const p of ["bin", "dist", "models", "deploy", "README.md", "coordinator/dashboard/ui/dist"]) {
    cpSync(join(root, p), join(stage, p), { recursive: true, filter: (src) => !src.startsWith(join(root, "models", "fetched")) });
  }
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8"));

  // Production packages only, as installed here (a platform's optional packages only where present).
  const modules = realpathSync(join(root, "node_modules")); // a worktree may share another's through a symlink
  let copied = 0;
  for (const [key, entry] of Object.entries(lock.packages)) {
    if (!key.startsWith("node_modules/") || key.slice("node_modules/".length).includes("node_modules/")) continue;
    if (entry.dev || entry.link) continue;
    const from = join(modules, key.slice("node_modules/".length));
    if (!existsSync(from)) {
      if (entry.optional) continue;
      throw new Error(`${key} is in package-lock.json but not installed: run npm ci first`);
    }
    cpSync(from, join(stage, key), { recursive: true, verbatimSymlinks: true, filter: (src) => keepFile(key, relative(from, src)) });
    copied++;
  }
  say(`staged ${copied} production packages`);
  prepareBundled(join(stage, "node_modules"));

  delete pkg.devDependencies;
  delete pkg.scripts;
  delete pkg.allowScripts;
  pkg.bundleDependencies = Object.keys(pkg.dependencies);
  writeFileSync(join(stage, "package.json"), `${JSON.stringify(pkg, null, 2)}\n`);

  mkdirSync(out, { recursive: true });
  say("packing (about a minute)");
  const packed = JSON.parse(run("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", out], stage));
  const tarball = join(out, packed[0].filename);
  const inTar = new Set(packed[0].files.map((f) => f.path));
  const missing = nativeBindings(join(stage, "node_modules")).map((f) => relative(stage, f)).filter((f) => !inTar.has(f));
  if (missing.length) throw new Error(`the tarball lacks native bindings: ${missing.join(", ")}`);
  // The npm packages bundled into dist/ run from there: their licences ship in this file (scripts/build-licences.mjs).
  if (!inTar.has("dist/THIRD-PARTY-LICENSES.txt")) throw new Error("the tarball lacks dist/THIRD-PARTY-LICENSES.txt (the bundled packages' licences)");
  say(`${tarball} (${(statSync(tarball).size / 1e6).toFixed(0)} MB, ${inTar.size} files)`);
  process.stdout.write(`${tarball}\n`);
} finally {
  rmSync(stage, { recursive: true, force: true });
}

/** onnxruntime-node carries its libraries for every platform; the release keeps this machine's. */
function keepFile(key, rel) {
  if (key !== "node_modules/onnxruntime-node") return true;
  const m = /^bin\/napi-v\d+\/([^/]+)(?:\/([^/]+))?/.exec(rel);
  if (!m) return true;
  return m[1] === process.platform && (m[2] === undefined || m[2] === process.arch);
}

/** Every package.json under dir: no install scripts, no implicit node-gyp build, built bindings in `files`. */
function prepareBundled(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (name.startsWith("@")) {
      prepareBundled(p);
      continue;
    }
    const manifest = join(p, "package.json");
    if (!existsSync(manifest)) continue;
    const pj = JSON.parse(readFileSync(manifest, "utf8"));
    for (const s of ["preinstall", "install", "postinstall"]) if (pj.scripts) delete pj.scripts[s];
    if (existsSync(join(p, "binding.gyp"))) pj.gypfile = false;
    if (Array.isArray(pj.files)) pj.files.push(...nativeBindings(p, true).map((f) => relative(p, f)));
    writeFileSync(manifest, `${JSON.stringify(pj, null, 2)}\n`);
    if (existsSync(join(p, "node_modules"))) prepareBundled(join(p, "node_modules"));
  }
}

/** Compiled *.node files of a tree (ownOnly: not those of packages nested in its node_modules). */
function nativeBindings(dir, ownOnly = false) {
  const found = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory() && !(ownOnly && e.name === "node_modules")) found.push(...nativeBindings(p, ownOnly));
    else if (e.isFile() && e.name.endsWith(".node")) found.push(p);
  }
  return found;
}
