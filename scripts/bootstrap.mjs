#!/usr/bin/env node
// Makes a fresh checkout runnable: npm dependencies, nats-server, ffmpeg.
// Plain Node with no dependencies, because it runs before `npm ci`.
import { execFileSync, spawnSync } from "node:child_process";
import { accessSync, constants, existsSync, lstatSync, statSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const quiet = process.argv.includes("--quiet");
const say = (msg) => {
  if (!quiet) process.stderr.write(`bootstrap: ${msg}\n`);
};
const fail = (msg) => {
  process.stderr.write(`bootstrap: ${msg}\n`);
  process.exit(1);
};

const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 20 || (major === 20 && minor < 19)) fail(`Node.js >= 20.19 is needed, this is ${process.versions.node}`);

// 1. npm dependencies
const stamp = join(root, "node_modules", ".package-lock.json");
const lock = join(root, "package-lock.json");
// A node_modules that is a link belongs to another checkout (a git worktree sharing it): never reinstall through it.
const linked = existsSync(join(root, "node_modules")) && lstatSync(join(root, "node_modules")).isSymbolicLink();
if (linked) say("node_modules is a link to another checkout's; not installing through it");
else if (!existsSync(stamp) || statSync(lock).mtimeMs > statSync(stamp).mtimeMs + 1000) {
  say("installing npm dependencies (npm ci; better-sqlite3 compiles from source, about 90 s)");
  // onnxruntime-node's own documented switch: skip its CUDA download (npm 10 ignores package.json allowScripts).
  const r = spawnSync("npm", ["ci", "--no-audit", "--no-fund"], {
    cwd: root,
    stdio: ["ignore", process.stderr, process.stderr],
    env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: process.env.ONNXRUNTIME_NODE_INSTALL ?? "skip" },
  });
  if (r.status !== 0) fail("`npm ci` failed; see the output above");
}

// 2. nats-server and ffmpeg
const onPath = (name, extra = []) => {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin", "/usr/local/bin", ...extra];
  for (const d of dirs) {
    if (!d) continue;
    try {
      accessSync(join(d, name), constants.X_OK);
      return join(d, name);
    } catch {}
  }
  return null;
};
const natsOk = () => (process.env.NIGHTSHIFT_NATS_SERVER && existsSync(process.env.NIGHTSHIFT_NATS_SERVER)) || onPath("nats-server");
const missing = [];
if (!natsOk()) missing.push("nats-server");
if (!onPath("ffmpeg") || !onPath("ffprobe")) missing.push("ffmpeg");
if (missing.length > 0) {
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  const apt = onPath("apt-get");
  if (isRoot && apt) {
    say(`installing ${missing.join(" and ")} with apt-get`);
    try {
      execFileSync(apt, ["update", "-qq"], { stdio: ["ignore", process.stderr, process.stderr] });
      execFileSync(apt, ["install", "-y", "-qq", ...missing], {
        stdio: ["ignore", process.stderr, process.stderr],
        env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
      });
    } catch {
      fail(`apt-get could not install ${missing.join(" ")}; install them by hand and run again`);
    }
  } else if (missing.includes("nats-server")) {
    fail(
      "nats-server is missing. Install it: `sudo apt-get update && sudo apt-get install -y nats-server ffmpeg` " +
        "(Debian/Ubuntu), or download it from https://github.com/nats-io/nats-server/releases and set " +
        "NIGHTSHIFT_NATS_SERVER=/path/to/nats-server",
    );
  } else {
    say("ffmpeg is missing: frames will be rendered but no MP4 assembled (sudo apt-get install -y ffmpeg)");
  }
}
if (!natsOk()) fail("nats-server is still not found after installing; set NIGHTSHIFT_NATS_SERVER=/path/to/nats-server");

// 3. the dashboard's bundle (scripts, styles), served by the coordinator itself
const built = spawnSync(process.execPath, [join(root, "scripts", "build-dashboard.mjs")], { stdio: ["ignore", process.stderr, process.stderr] });
if (built.status !== 0) fail("building the dashboard bundle failed; see the output above");
say("ready");
