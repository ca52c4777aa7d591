// Why this file exists: deploy/README.md must work as written. This packs the release (npm run release:pack),
// installs it offline into a fresh prefix with an empty npm cache (no repository, no internet-only install
// step), runs `nightshift --version`, the coordinator with the unit's command line and the example config (on
// loopback), a join token, an agent from the installed package that enrolls, and a job that finishes. As root
// (CI), the coordinator and the token step run as a new non-root service user, as systemd would run them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { PROJECT_ROOT } from "../../cli/paths.ts";
import { NIGHTSHIFT_VERSION } from "../../shared/version.ts";
import { freePort } from "../support/free-port.ts";
import { execStart } from "../support/unit-exec-start.ts";

const has = (tool: string): boolean => spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0;
const skip = has("npm") ? false : "npm is missing (it packs and installs the release)";
// The service-user part needs root and these tools; without them the same steps run as the current user.
const asServiceUser = typeof process.getuid === "function" && process.getuid() === 0 && ["useradd", "userdel", "runuser", "setpriv"].every(has);

/** What an admin's shell has: not the test runner's NIGHTSHIFT_FROM_SOURCE (the release must run as installed). */
const { NIGHTSHIFT_FROM_SOURCE: _fromSource, ...userEnv } = process.env;

/** A long-running process whose output is kept; waits are bounded. */
function start(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): { child: ChildProcess; waitFor: (re: RegExp, ms: number) => Promise<string>; stop: () => Promise<void>; tail: () => string } {
  const child = spawn(cmd, args, { ...opts, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    child,
    tail: () => out.slice(-3000),
    async waitFor(re, ms) {
      const until = Date.now() + ms;
      while (Date.now() < until) {
        const m = re.exec(out);
        if (m) return m[0];
        if (child.exitCode !== null || child.signalCode !== null) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`${cmd} ${args.join(" ")}: no ${re} (${child.exitCode ?? "running"}): ${out.slice(-3000)}`);
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

test(`deploy/: the packed release installs offline and the coordinator serves${asServiceUser ? " as a non-root service user" : " (as the current user: not root)"}`, { skip, timeout: 900_000 }, async (t) => {
  const root = mkdtempSync(join(tmpdir(), "ns-deploy-"));
  chmodSync(root, 0o755);
  const user = `nsdeploy${process.pid}`;
  const running: Array<{ stop: () => Promise<void> }> = [];
  t.after(async () => {
    for (const p of running.reverse()) await p.stop();
    if (asServiceUser) spawnSync("userdel", [user]);
    rmSync(root, { recursive: true, force: true });
  });

  // 1. The release (scripts/release-pack.mjs), then `npm install -g` offline into a fresh prefix.
  // NIGHTSHIFT_RELEASE_TARBALL: a tarball packed already (to rerun the install steps without packing again).
  let tarball = process.env.NIGHTSHIFT_RELEASE_TARBALL ?? "";
  if (tarball === "") {
    const packDir = join(root, "pack");
    const pack = spawnSync(process.execPath, [join(PROJECT_ROOT, "scripts/release-pack.mjs"), "--out", packDir], { cwd: PROJECT_ROOT, encoding: "utf8" });
    assert.equal(pack.status, 0, pack.stderr);
    tarball = pack.stdout.trim();
    assert.equal(tarball, join(packDir, `nightshift-${NIGHTSHIFT_VERSION}.tgz`));
  }
  const prefix = join(root, "prefix");
  // As deploy/README.md says; an empty cache proves nothing is fetched, --offline that nothing could be.
  const install = spawnSync("npm", ["install", "-g", "--offline", "--prefix", prefix, "--cache", join(root, "npm-cache"), tarball], {
    cwd: root,
    encoding: "utf8",
    env: { ...userEnv, npm_config_audit: "false", npm_config_fund: "false" },
  });
  assert.equal(install.status, 0, install.stderr);
  assert.doesNotMatch(install.stderr, /npm warn/i, "the install prints no warning");
  const bin = join(prefix, "bin", "nightshift");
  const version = spawnSync(bin, ["--version"], { cwd: root, env: userEnv, encoding: "utf8" });
  assert.equal(version.status, 0, version.stderr);
  assert.equal(version.stdout.trim(), NIGHTSHIFT_VERSION);
  // The npm packages bundled into dist/ ship their licences with it (scripts/build-licences.mjs).
  assert.match(readFileSync(join(prefix, "lib/node_modules/nightshift/dist/THIRD-PARTY-LICENSES.txt"), "utf8"), /\n@grpc\/grpc-js@[\d.]+ \(Apache-2\.0\)\n[\s\S]*Apache License/);

  // 2. The service user and what systemd would make for it (StateDirectory=nightshift), the output root.
  if (asServiceUser) {
    const useradd = spawnSync("useradd", ["--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", user], { encoding: "utf8" });
    assert.equal(useradd.status, 0, useradd.stderr);
  }
  const uid = asServiceUser ? Number(spawnSync("id", ["-u", user], { encoding: "utf8" }).stdout.trim()) : process.getuid?.() ?? 0;
  const gid = asServiceUser ? Number(spawnSync("id", ["-g", user], { encoding: "utf8" }).stdout.trim()) : process.getgid?.() ?? 0;
  const state = join(root, "var/lib/nightshift");
  const renders = join(root, "renders");
  mkdirSync(join(root, "var/lib"), { recursive: true, mode: 0o755 });
  for (const d of [state, renders]) {
    mkdirSync(d, { mode: 0o750 });
    if (asServiceUser) chownSync(d, uid, gid);
  }
  /** A command as systemd's service user would run it (runuser), or as is without root. */
  const asUser = (argv: string[]): [string, string[]] => (asServiceUser ? ["runuser", ["-u", user, "--", ...argv]] : [argv[0] as string, argv.slice(1)]);

  // 3. The example config as installed, with loopback and temp paths in place of the studio's.
  const example = YAML.parse(readFileSync(join(prefix, "lib/node_modules/nightshift/deploy/coordinator.example.yaml"), "utf8")) as Record<string, unknown>;
  const port = await freePort();
  const dataDir = join(state, "coordinator");
  const config = { ...example, dataDir, outputRoot: renders, listen: `127.0.0.1:${port}`, enrollListen: "127.0.0.1:0", mdns: false };
  mkdirSync(join(root, "etc/nightshift"), { recursive: true });
  const configFile = join(root, "etc/nightshift/coordinator.yaml");
  writeFileSync(configFile, YAML.stringify(config));

  // 4. The unit's command line, as the service user, in its working directory.
  const argv = execStart("nightshift-coordinator.service").map((w) => w.replace(/^\/usr\/local\/bin\/nightshift$/, bin).replace(/^\/etc\/nightshift\//, `${join(root, "etc/nightshift")}/`));
  assert.equal(argv[0], bin, "ExecStart runs the installed nightshift");
  const env = { ...userEnv, NIGHTSHIFT_LOG_LEVEL: "info", HOME: state };
  const coordinator = asServiceUser ? start("setpriv", [`--reuid=${uid}`, `--regid=${gid}`, "--init-groups", ...argv], { cwd: state, env }) : start(argv[0] as string, argv.slice(1), { cwd: state, env });
  running.push(coordinator);
  await coordinator.waitFor(/coordinator listening on/, 120_000);
  const enroll = /enrollment on ([^\s,]+)/.exec(await coordinator.waitFor(/enrollment on [^\s,]+/, 5_000))?.[1] as string;

  // 5. deploy/README.md step 3: a join token, made as the service user with its data dir.
  const token = spawnSync(...asUser([bin, "token", "create", "--data-dir", dataDir, "--json"]), { cwd: state, env, encoding: "utf8" });
  assert.equal(token.status, 0, token.stderr);
  const { token: joinToken, caFingerprint } = JSON.parse(token.stdout) as { token: string; caFingerprint: string };

  // 6. An agent from the installed package enrolls over loopback and renders a job.
  const agent = start(bin, ["agent", "--coordinator", `127.0.0.1:${port}`, "--enroll", enroll, "--join-token", joinToken, "--ca-fingerprint", caFingerprint, "--data-dir", join(root, "agent"), "--name", "packed-agent"], { cwd: root, env });
  running.push(agent);
  await agent.waitFor(/agent enrolled/, 120_000);
  const jobFile = join(root, "job.yaml");
  writeFileSync(jobFile, "name: deploy-check\ninput: { type: generated, width: 32, height: 24, frames: 8 }\nsteps:\n  - { id: grade, kind: model, model: colour-grade }\n");
  chmodSync(jobFile, 0o644);
  const submit = spawnSync(...asUser([bin, "submit", jobFile, "--data-dir", dataDir, "--wait", "--json"]), { cwd: state, env, encoding: "utf8", timeout: 420_000 });
  assert.equal(submit.status, 0, `submit: ${submit.error?.message ?? ""} ${submit.stderr}\n--- coordinator:\n${coordinator.tail()}\n--- agent:\n${agent.tail()}`);
  const job = JSON.parse(submit.stdout) as { state: string; framesDone: number; outputDir: string };
  assert.equal(job.state, "done");
  assert.equal(job.framesDone, 8);
  assert.ok(job.outputDir.startsWith(renders), job.outputDir);
});
