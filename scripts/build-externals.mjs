// Which npm packages the compiled CLI leaves in node_modules (loaded by Node at run time) instead of bundling
// into dist/: native ones (a compiled *.node binding, a node-gyp build, or a platform binary that the package
// finds by path) and those that read their own files by path at run time. Everything else is bundled, so that
// a coordinator start reads a few chunk files instead of resolving and loading each package's modules one by
// one (issue 15: module loading was ~550 ms of a 770 ms quiet start, 1-8 s under load).
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

/**
 * Kept external by name, with the reason:
 * - better-sqlite3, onnxruntime-node, sharp: compiled *.node bindings.
 * - koffi: loads its platform package's binding by path; esbuild: runs its own platform binary.
 * - bufferutil, utf-8-validate: ws's optional native helpers, not installed; ws requires them inside a try.
 * (pino-pretty stays in node_modules too: shared/log.ts requires it through createRequire, which esbuild does not follow.)
 */
export const EXTERNAL_BY_NAME = ["better-sqlite3", "onnxruntime-node", "sharp", "koffi", "esbuild", "bufferutil", "utf-8-validate"];

/** The package a bare import names: "@scope/name/sub" -> "@scope/name", "name/sub" -> "name". */
export function packageOf(spec) {
  const parts = spec.split("/");
  return spec.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}

/** True when a package's folder holds a compiled binding or a node-gyp build (checked once per package). */
function hasNativeCode(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isFile() && (e.name.endsWith(".node") || e.name === "binding.gyp")) return true;
    if (e.isDirectory() && e.name !== "node_modules" && hasNativeCode(join(dir, e.name))) return true;
  }
  return false;
}

/**
 * An esbuild plugin: every bare import of a package named in EXTERNAL_BY_NAME, or of one whose folder under
 * `modulesDir` holds native code, stays an import; the rest are bundled. A native package added later is
 * left external without anyone remembering to list it.
 */
export function externalsPlugin(modulesDir) {
  const native = new Map();
  const isNative = (name) => {
    if (!native.has(name)) {
      const dir = join(modulesDir, name);
      native.set(name, existsSync(dir) && hasNativeCode(dir));
    }
    return native.get(name);
  };
  return {
    name: "nightshift-externals",
    setup(b) {
      // Go's regexp (esbuild's) has no lookahead: bare specifiers are those not starting with "." or "/"; node: builtins pass through.
      b.onResolve({ filter: /^[^./]/ }, (args) => {
        if (args.path.startsWith("node:")) return undefined;
        const name = packageOf(args.path);
        if (EXTERNAL_BY_NAME.includes(name) || isNative(name)) return { path: args.path, external: true };
        return undefined;
      });
    },
  };
}

/**
 * Bundled package files that use their own location (__dirname, __filename, import.meta.url) and why each is
 * safe: in dist/ that location is dist/, not the package's folder, so such a file is bundled only when nightshift
 * never runs the code that reads by path. Any other file that does fails the build: keep its package external.
 */
export const BY_PATH_ALLOWED = {
  "commander/lib/command.js": "only in comments",
  "@grpc/grpc-js/build/src/channelz.js": "the channelz admin service's .proto files: nightshift never serves channelz",
  "@grpc/grpc-js/build/src/orca.js": "the ORCA load-report service's .proto files: nightshift never serves ORCA",
  "pino/lib/transport.js": "pino's transport workers: nightshift logs to a stream, never through a transport (shared/log.ts)",
  "thread-stream/index.js": "the worker of pino's transports: never started (as above)",
};

/** Throws, naming each file, when a bundled package file uses its own location and is not in BY_PATH_ALLOWED. */
export function checkBundledByPath(metafile, root) {
  const bad = [];
  for (const input of Object.keys(metafile.inputs)) {
    const at = input.lastIndexOf("node_modules/");
    if (at < 0) continue;
    const inPackage = input.slice(at + "node_modules/".length);
    if (inPackage in BY_PATH_ALLOWED) continue;
    if (/\b__dirname\b|\b__filename\b|\bimport\.meta\.(url|dirname|filename)\b/.test(readFileSync(join(root, input), "utf8"))) bad.push(inPackage);
  }
  if (bad.length) throw new Error(`bundled package files read their own location (keep their packages external in scripts/build-externals.mjs, or say why it is safe in BY_PATH_ALLOWED): ${bad.join(", ")}`);
}
