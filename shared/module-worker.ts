import { Worker } from "node:worker_threads";
import type { Plugin } from "esbuild";

/**
 * Starts a worker thread on one of this project's TypeScript modules (the
 * agent's onnxruntime, encoder and decoder threads, the coordinator's pixel
 * hash thread). A checkout runs TypeScript through tsx, registered in code by
 * bin/nightshift.mjs (or by `--import tsx` in tests); a worker thread does not
 * inherit such a loader, and registering tsx again inside each worker costs
 * seconds (its own loader thread, every module transpiled again) and keeps
 * costing a few ms of CPU a second while idle. Instead the module and the
 * project files it imports are bundled once per process with esbuild (a
 * dependency already, for the dashboard) into one ES module, in memory; npm
 * packages stay outside the bundle, imported by their absolute file URL, so
 * native ones (onnxruntime-node) load as usual. The worker runs that module
 * from a data: URL with no flags of the parent (`--test`, `--import`).
 */
const bundles = new Map<string, Promise<string>>();
/**
 * Bundles being made now, counted for the whole process: every copy of this
 * module (a bench that loads two checkouts has two) shares the one esbuild
 * service, so none may stop it while another copy's build is running.
 */
const builds: { building: number } = ((globalThis as Record<symbol, unknown>)[Symbol.for("nightshift.moduleWorker.builds")] ??= { building: 0 }) as {
  building: number;
};

export async function startModuleWorker(entry: URL): Promise<Worker> {
  // A built JavaScript entry (the compiled CLI in dist/) runs as it is.
  if (entry.pathname.endsWith(".js")) return new Worker(entry, { execArgv: [] });
  let code = bundles.get(entry.href);
  if (code === undefined) {
    code = bundleModule(entry);
    bundles.set(entry.href, code);
    code.catch(() => bundles.delete(entry.href));
  }
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(await code)}`), { execArgv: [] });
}

async function bundleModule(entry: URL): Promise<string> {
  builds.building++;
  try {
    return await bundleOnce(entry);
  } finally {
    // esbuild's service process stays up after a build and pings this process every second, waking its
    // event loop for nothing once the threads' bundles are made: end it (a later build starts it again).
    // Nothing else in the process uses it: the dashboard is built in a child process.
    // Checked again once esbuild is at hand: a build started meanwhile must not have the service stopped under it.
    if (--builds.building === 0) {
      void import("esbuild").then(async ({ stop }) => {
        if (builds.building === 0) await stop();
      });
    }
  }
}

async function bundleOnce(entry: URL): Promise<string> {
  // Loaded here, not with this file: the compiled CLI (dist/) never bundles, and its start-up should not load esbuild.
  const { build } = await import("esbuild");
  const out = await build({
    entryPoints: [decodeURIComponent(entry.pathname)],
    bundle: true,
    write: false,
    format: "esm",
    platform: "node",
    target: "node20",
    plugins: [packagesByFileUrl],
    logLevel: "silent",
  });
  const file = out.outputFiles[0];
  if (file === undefined) throw new Error(`esbuild gave no output for ${entry.href}`);
  return file.text;
}

/** Leaves npm packages out of the bundle, to be imported by absolute file URL (a data: module cannot resolve bare names). */
const packagesByFileUrl: Plugin = {
  name: "packages-by-file-url",
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => ({ path: args.path.startsWith("node:") ? args.path : import.meta.resolve(args.path), external: true }));
  },
};
