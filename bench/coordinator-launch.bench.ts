/**
 * How long a coordinator restart takes to listen (issue 15: the coordinator restart sets the fault soak's p99):
 * the compiled CLI (as a release and the soak run it) is SIGKILLed and started again on the same data dir, and
 * each start is timed from spawn to "coordinator listening", with its start-up steps from the "coordinator
 * ready" log (coordinator/start-up-steps.ts; "launch" is Node and module loading). The first start of each data
 * dir (the CA and store created) is left out. With `--against DIR` (another checkout, e.g. main in a detached
 * worktree with node_modules linked) its build is started the same way, interleaved launch by launch: the
 * baseline from the same minutes of a shared machine.
 *
 *   node --import tsx bench/coordinator-launch.bench.ts [--runs 5] [--against /tmp/old-checkout]
 *
 * Prints one JSON object: per side ("this", "baseline"), every launch's ms, the median and the median of each
 * step, the load average at the start and end, and this checkout's median over the baseline's. Each launch's
 * CPU time (user + system of the coordinator process, all its threads, from /proc at "listening"; Linux) is
 * printed beside its wall time: on a shared machine CPU time moves far less with the load than wall time does.
 */
import { spawnSync } from "node:child_process";
import { loadavg } from "node:os";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { PROJECT_ROOT } from "../cli/paths.ts";
import { reapOrphanNats } from "../coordinator/nats/orphan-nats.ts";
import { startCli, type CliProcess } from "../test/support/cli-process.ts";
import { freePort } from "../test/support/free-port.ts";
import { median } from "./bench-cli.ts";

const flag = (name: string): string | undefined => {
  const at = process.argv.indexOf(name);
  return at > 0 ? process.argv[at + 1] : undefined;
};
const runs = Math.max(1, Math.min(50, Number(flag("--runs") ?? "5")));
const against = flag("--against");

/** Builds `root`'s CLI into a fresh folder under its .tmp/ (its node_modules resolve from there); returns main.js. */
function build(root: string): string {
  mkdirSync(join(root, ".tmp"), { recursive: true });
  const dir = mkdtempSync(join(root, ".tmp", "launch-bench-"));
  const r = spawnSync(process.execPath, [join(root, "scripts/build.mjs"), "--outdir", dir], { cwd: root, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${root}: scripts/build.mjs failed: ${r.stderr}`);
  return join(dir, "main.js");
}

interface Side {
  name: string;
  main: string;
  dir: string;
  address: string;
  proc?: CliProcess;
  launches: Launch[];
}

interface Launch {
  ms: number;
  /** User + system CPU of the coordinator process up to "listening" (null where /proc is missing). */
  cpuMs: number | null;
  steps: Record<string, number>;
}

/** A process's user + system CPU time so far, ms, from /proc/PID/stat (fields 14 and 15, in clock ticks of 1/100 s). */
function cpuMsOf(pid: number): number | null {
  const file = `/proc/${pid}/stat`;
  if (!existsSync(file)) return null;
  const stat = readFileSync(file, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // from field 3 (state) on
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function start(side: Side): Promise<Launch> {
  const args = ["coordinator", "--data-dir", join(side.dir, "data"), "--output-root", join(side.dir, "output"), "--listen", side.address, "--no-mdns"];
  const t0 = performance.now();
  const p = startCli(args, { compiled: side.main, env: { NIGHTSHIFT_LOG_FORMAT: "json" } });
  side.proc = p;
  await p.waitFor(/coordinator listening/, 120_000);
  const ms = performance.now() - t0;
  const cpuMs = cpuMsOf(p.pid);
  // The log line reaches stderr after "listening" reaches stdout: a moment to read it.
  let steps: Record<string, number> = {};
  for (let i = 0; i < 40 && Object.keys(steps).length === 0; i++) {
    const line = p.output().split("\n").find((l) => l.includes('"coordinator ready"'));
    if (line) steps = (JSON.parse(line.slice(line.indexOf("{"))) as { startUpMs?: Record<string, number> }).startUpMs ?? {};
    else await new Promise((r) => setTimeout(r, 50));
  }
  return { ms, cpuMs, steps };
}

async function kill(side: Side): Promise<void> {
  side.proc?.kill("SIGKILL");
  await side.proc?.exited;
}

const sides: Side[] = [];
mkdirSync(join(PROJECT_ROOT, ".tmp"), { recursive: true }); // a fresh checkout has none yet
const scratch = mkdtempSync(join(PROJECT_ROOT, ".tmp", "launch-bench-data-"));
try {
  for (const [name, root] of [["this", PROJECT_ROOT], ...(against ? [["baseline", against]] : [])] as const) {
    sides.push({ name, main: build(root), dir: join(scratch, name), address: `127.0.0.1:${await freePort()}`, launches: [] });
  }
  const loadAtStart = loadavg()[0] as number;
  for (const s of sides) {
    await start(s); // the first start creates the data dir: left out
    await kill(s);
  }
  for (let i = 0; i < runs; i++) {
    for (const s of i % 2 === 0 ? sides : [...sides].reverse()) {
      s.launches.push(await start(s));
      await kill(s);
    }
  }
  const summary = Object.fromEntries(
    sides.map((s) => {
      const names = [...new Set(s.launches.flatMap((l) => Object.keys(l.steps)))];
      const cpu = s.launches.flatMap((l) => (l.cpuMs === null ? [] : [l.cpuMs]));
      return [s.name, {
        launchesMs: s.launches.map((l) => Math.round(l.ms)),
        medianMs: Math.round(median(s.launches.map((l) => l.ms))),
        launchesCpuMs: cpu,
        medianCpuMs: cpu.length ? Math.round(median(cpu)) : null,
        medianStepsMs: Object.fromEntries(names.map((n) => [n, Math.round(median(s.launches.map((l) => l.steps[n] ?? 0)))])),
      }];
    }),
  );
  type Summary = { medianMs: number; medianCpuMs: number | null };
  const [mine, base] = [summary.this as Summary, summary.baseline as Summary | undefined];
  const ratio = base ? mine.medianMs / base.medianMs : undefined;
  const cpuRatio = base && mine.medianCpuMs !== null && base.medianCpuMs ? mine.medianCpuMs / base.medianCpuMs : undefined;
  process.stdout.write(JSON.stringify({ bench: "coordinator-launch", runs, baselineRoot: against ?? null, loadAverage: [loadAtStart, loadavg()[0]], ...summary, ...(ratio !== undefined ? { ratioThisToBaseline: Number(ratio.toFixed(3)) } : {}), ...(cpuRatio !== undefined ? { cpuRatioThisToBaseline: Number(cpuRatio.toFixed(3)) } : {}) }, null, 2) + "\n");
} finally {
  for (const s of sides) {
    await kill(s).catch(() => undefined);
    // A SIGKILLed coordinator leaves its nats-server running; the next start reaps it, the last kill has no next start.
    const nats = join(s.dir, "data", "nats");
    await reapOrphanNats(join(nats, "nats-server.pid"), join(nats, "nats-server.conf")).catch(() => null);
  }
  rmSync(scratch, { recursive: true, force: true });
  for (const s of sides) rmSync(join(s.main, ".."), { recursive: true, force: true });
}
