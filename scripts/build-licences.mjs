// The licences of the npm packages bundled into dist/: their code ships inside our chunks, not in their own
// folders with their LICENSE files, so the build writes one file naming each bundled package (name, version,
// licence) with the text of its licence and notice files. A package that ships no licence file (e.g.
// @bufbuild/protobuf: a notice at the head of each source file) gets that notice instead; one with neither
// fails the build, naming it: what is shipped must carry its licence.
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const LICENCE_FILE = /^(licen[cs]e|copying|notice)(\b|[-._])/i;

/** The package folders (relative to root, e.g. "node_modules/@nats-io/jwt") that esbuild bundled inputs from, each with its first bundled file. */
export function bundledPackageDirs(metafile) {
  const dirs = new Map();
  for (const input of Object.keys(metafile.inputs)) {
    const at = input.lastIndexOf("node_modules/");
    if (at < 0) continue;
    const rest = input.slice(at + "node_modules/".length).split("/");
    const name = rest[0].startsWith("@") ? rest.slice(0, 2).join("/") : rest[0];
    const dir = input.slice(0, at + "node_modules/".length) + name;
    if (!dirs.has(dir)) dirs.set(dir, input);
  }
  return [...dirs].sort(([a], [b]) => (a < b ? -1 : 1));
}

/** The comment block a source file opens with, when it is a copyright or licence notice. */
function headNotice(file) {
  const head = /^(?:\s*\/\/.*\n)+|^\s*\/\*[\s\S]*?\*\//.exec(readFileSync(file, "utf8"));
  return head && /copyright|licen[cs]e/i.test(head[0]) ? head[0].trim() : undefined;
}

/** Writes `file`: every bundled package, its version and licence, and its licence files' text. Returns the packages. */
export function writeThirdPartyLicences(metafile, root, file) {
  const parts = ["Third-party software bundled into these files (nightshift's dist/), with the licence each is used under.\n"];
  const names = [];
  for (const [dir, input] of bundledPackageDirs(metafile)) {
    const pkg = JSON.parse(readFileSync(join(root, dir, "package.json"), "utf8"));
    const files = readdirSync(join(root, dir)).filter((f) => LICENCE_FILE.test(f)).sort();
    const notice = files.length === 0 ? headNotice(join(root, input)) : undefined;
    if (files.length === 0 && !notice) throw new Error(`${pkg.name} (${dir}): bundled into dist/ but has no licence file or notice to ship with it`);
    names.push(pkg.name);
    parts.push(`${"=".repeat(78)}\n${pkg.name}@${pkg.version} (${pkg.license ?? "see below"})\n${"=".repeat(78)}\n`);
    for (const f of files) parts.push(`--- ${f} ---\n${readFileSync(join(root, dir, f), "utf8").trimEnd()}\n`);
    if (notice) parts.push(`--- notice at the head of its source files (it ships no licence file) ---\n${notice}\n`);
  }
  writeFileSync(file, `${parts.join("\n")}\n`);
  return names;
}
