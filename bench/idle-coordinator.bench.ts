/**
 * What an idle coordinator costs: a coordinator with no agent and no job,
 * started as a studio runs it (embedded nats-server, SQLite, gRPC, the
 * dashboard), left alone, then watched for a while.
 *
 *   node --import tsx bench/idle-coordinator.bench.ts [--seconds 10] [--settle 3] [--dir PARENT]
 *
 * Prints one JSON object: per thread of the coordinator's process, the CPU
 * time (/proc/self/task/TID/schedstat, ns) and the times it went to sleep
 * (voluntary context switches in /proc/self/task/TID/status: each is one
 * wake-up after it), per second; the timer callbacks that ran, per second, by
 * the place that set the timer (global setTimeout/setInterval wrapped before
 * the coordinator is loaded; this costs a stack trace per timer set); and the
 * embedded nats-server's own CPU and wake-ups over the same seconds, the
 * same-run reference (a process that serves NATS and does nothing else).
 * Linux only for the /proc figures (elsewhere they are empty).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { BUNDLED_MODELS_DIR } from "../cli/paths.ts";
import { benchLogger, intFlag, parentDirFlag, parseFlags, round, runBench, withTempDir } from "./bench-cli.ts";

/** Timer callbacks run, by the first frame outside node's internals and node_modules' timers where the timer was set. */
const fired = new Map<string, number>();

/** Where a timer was set: the first stack frame in this repository (else in node_modules), as path:line. */
function timerSite(): string {
  const lines = (new Error().stack ?? "").split("\n").slice(3);
  const frame = lines.find((l) => l.includes("/work/") && !l.includes("node_modules") && !l.includes("idle-coordinator.bench")) ?? lines.find((l) => l.includes("node_modules")) ?? lines[0] ?? "";
  const m = /(?:file:\/\/)?([^ (]+?):(\d+):\d+\)?$/.exec(frame.trim());
  if (!m) return frame.trim();
  const path = m[1]!;
  const nm = path.lastIndexOf("node_modules/");
  const rel = nm >= 0 ? path.slice(nm) : path.replace(/^.*?\/(coordinator|shared|agent|cli|bench)\//, "$1/");
  return `${rel}:${m[2]}`;
}

function countTimers(): void {
  const wrap = <A extends unknown[], R>(orig: (cb: (...a: A) => void, ms?: number, ...rest: A) => R) =>
    function (this: unknown, cb: (...a: A) => void, ms?: number, ...rest: A): R {
      if (typeof cb !== "function") return orig.call(this, cb, ms, ...rest);
      const site = timerSite();
      return orig.call(
        this,
        function (this: unknown, ...a: A) {
          fired.set(site, (fired.get(site) ?? 0) + 1);
          cb.apply(this, a);
        },
        ms,
        ...rest,
      );
    };
  globalThis.setTimeout = wrap(globalThis.setTimeout as never) as typeof setTimeout;
  globalThis.setInterval = wrap(globalThis.setInterval as never) as typeof setInterval;
}

interface ThreadCounts {
  name: string;
  cpuNs: number;
  sleeps: number;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined; // the thread ended meanwhile, or no /proc
  }
}

/** Each thread of `pid`: its name, CPU time and voluntary context switches so far. */
function threads(pid: number): Map<number, ThreadCounts> {
  const out = new Map<number, ThreadCounts>();
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    const dir = `/proc/${pid}/task/${tid}`;
    const [name, sched, status] = [readText(`${dir}/comm`), readText(`${dir}/schedstat`), readText(`${dir}/status`)];
    if (name === undefined || sched === undefined || status === undefined) continue;
    const sleeps = Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    out.set(Number(tid), { name: Number(tid) === pid ? "main" : name.trim(), cpuNs: Number(sched.split(" ")[0]), sleeps });
  }
  return out;
}

/** Per second over `seconds`, by thread name (threads of one name summed), from two readings. */
function perSecond<K>(before: Map<K, ThreadCounts>, after: Map<K, ThreadCounts>, seconds: number): { cpuMsPerSecond: Record<string, number>; wakeupsPerSecond: Record<string, number>; total: { cpuMsPerSecond: number; wakeupsPerSecond: number } } {
  const cpu: Record<string, number> = {};
  const wake: Record<string, number> = {};
  let [cpuAll, wakeAll] = [0, 0];
  for (const [tid, a] of after) {
    const b = before.get(tid) ?? { name: a.name, cpuNs: 0, sleeps: 0 };
    const [c, w] = [(a.cpuNs - b.cpuNs) / 1e6 / seconds, (a.sleeps - b.sleeps) / seconds];
    cpu[a.name] = round((cpu[a.name] ?? 0) + c, 3);
    wake[a.name] = round((wake[a.name] ?? 0) + w, 2);
    cpuAll += c;
    wakeAll += w;
  }
  return { cpuMsPerSecond: cpu, wakeupsPerSecond: wake, total: { cpuMsPerSecond: round(cpuAll, 3), wakeupsPerSecond: round(wakeAll, 2) } };
}

/** This process's children by name (the embedded nats-server; an esbuild service, if one runs). */
function children(): Map<number, string> {
  const out = new Map<number, string>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readText(`/proc/${entry}/stat`);
    if (stat === undefined) continue;
    const close = stat.lastIndexOf(")");
    if (Number(stat.slice(close + 2).split(" ")[1]) === process.pid) out.set(Number(entry), stat.slice(stat.indexOf("(") + 1, close));
  }
  return out;
}

/** Every thread of the given processes, keyed by "pid/tid". */
function threadsOf(pids: readonly number[]): Map<string, ThreadCounts> {
  const out = new Map<string, ThreadCounts>();
  for (const pid of pids) for (const [tid, t] of threads(pid)) out.set(`${pid}/${tid}`, t);
  return out;
}

async function idleCoordinatorBench(argv: readonly string[]): Promise<Record<string, unknown>> {
  const f = parseFlags(argv, { seconds: { default: "10" }, settle: { default: "3" }, dir: { default: "" } });
  const seconds = intFlag("seconds", f.seconds, 1, 600);
  const settle = intFlag("settle", f.settle, 0, 60);
  countTimers();
  // Loaded after the timers are wrapped, so every timer the coordinator sets is counted.
  const { compileCoordinatorConfig } = await import("../coordinator/config/coordinator-config.ts");
  const { Coordinator } = await import("../coordinator/coordinator.ts");
  return withTempDir("nightshift-bench-idle-", parentDirFlag(f.dir), async (dir) => {
    const config = compileCoordinatorConfig({ dataDir: join(dir, "coordinator"), outputRoot: join(dir, "output"), modelsDir: BUNDLED_MODELS_DIR, listen: "127.0.0.1:0" }, BUNDLED_MODELS_DIR);
    const coordinator = await Coordinator.start(config, benchLogger("bench-idle-coordinator"));
    try {
      await new Promise((r) => setTimeout(r, settle * 1000));
      const kids = children();
      const nats = [...kids].filter(([, name]) => name.startsWith("nats-server")).map(([pid]) => pid);
      const others = [...kids].filter(([, name]) => !name.startsWith("nats-server")).map(([pid]) => pid);
      const snapshot = (): { own: Map<number, ThreadCounts>; nats: Map<string, ThreadCounts>; others: Map<string, ThreadCounts> } => ({ own: threads(process.pid), nats: threadsOf(nats), others: threadsOf(others) });
      const before = snapshot();
      fired.clear();
      const t0 = process.hrtime.bigint();
      await new Promise((r) => setTimeout(r, seconds * 1000));
      const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
      const after = snapshot();
      const timers = Object.fromEntries([...fired].filter(([site]) => !site.startsWith("bench/")).sort((a, b) => b[1] - a[1]).map(([site, n]) => [site, round(n / elapsed, 2)]));
      const own = perSecond(before.own, after.own, elapsed);
      const natsServer = perSecond(before.nats, after.nats, elapsed);
      return {
        benchmark: "idle-coordinator",
        seconds: round(elapsed, 2),
        settleSeconds: settle,
        coordinator: own,
        timerCallbacksPerSecond: { total: round(Object.values(timers).reduce((s, n) => s + n, 0), 2), bySite: timers },
        natsServer: natsServer.total,
        otherChildren: { names: [...new Set(others.map((pid) => kids.get(pid)))], ...perSecond(before.others, after.others, elapsed).total },
        coordinatorOverNatsServer: { cpu: natsServer.total.cpuMsPerSecond > 0 ? round(own.total.cpuMsPerSecond / natsServer.total.cpuMsPerSecond, 2) : null, wakeups: natsServer.total.wakeupsPerSecond > 0 ? round(own.total.wakeupsPerSecond / natsServer.total.wakeupsPerSecond, 2) : null },
        definitions: {
          cpuMsPerSecond: "CPU time per second of wall, by thread name (main = the event loop; ns-* = the coordinator's named worker threads; libuv-worker = the libuv pool; others are V8's)",
          wakeupsPerSecond: "voluntary context switches per second: times a thread went to sleep, so times it was woken after",
          timerCallbacksPerSecond: "setTimeout/setInterval callbacks run per second, by where the timer was set (repository path:line, or the node_modules package)",
          natsServer: "the embedded nats-server over the same seconds: the same-run reference of a process serving an idle NATS",
          otherChildren: "any other child process of the coordinator's (an esbuild service left running, say), all threads",
        },
      };
    } finally {
      await coordinator.stop();
    }
  });
}

runBench(() => idleCoordinatorBench(process.argv.slice(2)));
