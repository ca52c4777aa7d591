/**
 * One dispatch pass alone, in process, on a real SQLite store: CPU per pass
 * with N online agents each running an attempt and a pool job whose queue is
 * topped up by one chunk per pass (one chunk finished before each pass, as
 * after a commit). Three ways, alternated in the same run: job placement
 * needs computed and every farm-wide read made on each pass (the baseline);
 * needs cached per job (coordinator/scheduling/job-needs-cache.ts); and needs
 * cached with the online agents, queued chunks and running attempts kept
 * between passes (coordinator/scheduling/kept-reads.ts), as the coordinator
 * runs. CPU is
 * the process's user + system time, which load moves far less than wall time.
 * The store is on tmpfs (/dev/shm) unless --dir says otherwise.
 *
 * `--pool-chunks N` makes the pool job at least N one-frame chunks (21600:
 * a 15-minute film at 24 fps), to see what a pass costs as a job grows.
 *
 *   node --import tsx bench/dispatch-pass.bench.ts [--agents 8,64,256] [--passes 300] [--pool-chunks N] [--dir PARENT]
 */
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Store } from "../coordinator/store/store.ts";
import { DEFAULT_FARM_POLICY } from "../coordinator/dispatch/farm-policy.ts";
import { runDispatchPass, type DispatchPassDeps } from "../coordinator/scheduling/dispatch-pass.ts";
import { defaultSchedulingDeps } from "../coordinator/scheduling/scheduling-deps.ts";
import { jobNeeds } from "../coordinator/scheduling/farm-snapshot.ts";
import { JobNeedsCache } from "../coordinator/scheduling/job-needs-cache.ts";
import { KeptReads } from "../coordinator/scheduling/kept-reads.ts";
import { insertAgent, insertJob } from "../test/helpers/store-fixture.ts";
import { benchLogger, fileSystemType, intFlag, intListFlag, parentDirFlag, parseFlags, round, runBench, withTempDir } from "./bench-cli.ts";

const log = benchLogger("bench-dispatch-pass");

/** A store with `agents` online agents, each running one attempt of a busy job, and a pool job of many pending chunks. */
function seed(dir: string, agents: number, passes: number, poolChunks: number): Store {
  const store = Store.open(join(dir, `store-${agents}.sqlite`));
  const busy = insertJob(store, { id: "job_busy", frameEnd: agents - 1 });
  const pool = insertJob(store, { id: "job_pool", frameEnd: Math.max(poolChunks - 1, 10 * agents + 4 * passes) });
  store.tx(() => {
    for (let i = 0; i < agents; i++) {
      const a = insertAgent(store, { id: `agt_${String(i).padStart(3, "0")}` });
      store.chunks.insert({ id: `${busy.id}.c${i}`, jobId: busy.id, idx: i, frameStart: i, frameEnd: i, contextStart: i, contextEnd: i, updatedAt: 1_000 });
      store.chunks.transition(`${busy.id}.c${i}`, "queued", 1_000, { dispatchId: `dsp_b${i}` });
      store.attempts.insert({ id: `att_b${i}`, chunkId: `${busy.id}.c${i}`, jobId: busy.id, agentId: a.id, createdAt: 1_000 });
      store.chunks.transition(`${busy.id}.c${i}`, "running", 1_000, { currentAttemptId: `att_b${i}`, countAttempt: true });
    }
    for (let i = 0; i <= pool.frameEnd; i++) {
      store.chunks.insert({ id: `${pool.id}.c${String(i).padStart(5, "0")}`, jobId: pool.id, idx: i, frameStart: i, frameEnd: i, contextStart: i, contextEnd: i, updatedAt: 1_000 });
    }
  });
  return store;
}

/** computed: job needs computed and every read made on each pass (the baseline); cached: needs cached; kept: needs cached and the farm-wide reads kept (the coordinator's way). */
type Mode = "computed" | "cached" | "kept";

/** CPU ms per pass over `passes` passes, one queued chunk of the pool job finished before each. */
async function measure(store: Store, passes: number, mode: Mode): Promise<number> {
  const cached = mode !== "computed";
  let seq = 0;
  const base = defaultSchedulingDeps();
  const memoryOf = (): number | null => null;
  const needs = new JobNeedsCache((job) => jobNeeds(job, base.specs, store, memoryOf), () => `${store.blocklist.revision}|${store.models.revision}`);
  const deps: DispatchPassDeps = {
    ...base,
    store,
    policy: DEFAULT_FARM_POLICY,
    publisher: { publish: async () => ++seq },
    clock: () => 2_000,
    log,
    ...(cached ? { needsOf: (job) => needs.of(job) } : {}),
    ...(mode === "kept" ? { kept: new KeptReads(store) } : {}),
  };
  await runDispatchPass(deps); // fills the queue
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < passes; i++) {
    const q = store.db.prepare(`SELECT id FROM chunks WHERE job_id = 'job_pool' AND state = 'queued' ORDER BY idx LIMIT 1`).get() as { id: string } | undefined;
    if (q) {
      store.chunks.transition(q.id, "running", 2_000, { currentAttemptId: `att_p${i}` });
      store.chunks.transition(q.id, "done", 2_000, { currentAttemptId: `att_p${i}` });
    }
    await runDispatchPass(deps);
  }
  const cpu = process.cpuUsage(cpu0);
  return (cpu.user + cpu.system) / 1000 / passes;
}

async function dispatchPassBench(argv: readonly string[]): Promise<Record<string, unknown>> {
  const f = parseFlags(argv, { agents: { default: "8,64,256" }, passes: { default: "300" }, "pool-chunks": { default: "0" }, dir: { default: "" } });
  const counts = intListFlag("agents", f.agents, 1, 1024);
  const passes = intFlag("passes", f.passes, 10, 100_000);
  const poolChunks = intFlag("pool-chunks", f["pool-chunks"], 0, 1_000_000);
  // tmpfs by default, as bench:scheduling: an fsync per pass's transaction on this VM's ext4 (3.6 ms) is not what is measured.
  const parent = parentDirFlag(f.dir) ?? (existsSync("/dev/shm") ? "/dev/shm" : undefined);
  return withTempDir("nightshift-bench-pass-", parent, async (dir) => {
    const runs: Record<string, unknown> = {};
    for (const n of counts) {
      // Alternated, each on a fresh store: baseline, cached, baseline, cached; the lower of each pair is kept.
      const ms = { computed: Infinity, cached: Infinity, kept: Infinity };
      for (let round2 = 0; round2 < 2; round2++) {
        for (const mode of ["computed", "cached", "kept"] as const) {
          const store = seed(dir, n, passes, poolChunks);
          try {
            ms[mode] = Math.min(ms[mode], await measure(store, passes, mode));
          } finally {
            store.close();
          }
          for (const ext of ["", "-wal", "-shm"]) rmSync(join(dir, `store-${n}.sqlite${ext}`), { force: true });
        }
      }
      runs[String(n)] = {
        passCpuMsNeedsComputed: round(ms.computed, 3),
        passCpuMsNeedsCached: round(ms.cached, 3),
        ratio: round(ms.cached / ms.computed, 3),
        passCpuMsKept: round(ms.kept, 3),
        keptRatioToCached: round(ms.kept / ms.cached, 3),
        keptRatioToComputed: round(ms.kept / ms.computed, 3),
      };
    }
    const os = await import("node:os");
    return {
      benchmark: "dispatch-pass",
      passes,
      poolJobChunks: poolChunks,
      byAgents: runs,
      meaning: "CPU ms of one dispatch pass (snapshot, plan, transaction, publishes to an in-memory publisher) with N agents each running one attempt; cached: job needs cached per job (the coordinator's way), computed: on every pass (baseline, same run); kept: needs cached and the online agents, queued chunks and running attempts kept between passes, re-reading only rows changed since (coordinator/scheduling/kept-reads.ts; the triggers' cost on the bench's own writes included); best of 2 alternated rounds",
      environment: { cpus: os.cpus().length, loadAverage1m: round(os.loadavg()[0] ?? 0, 2), node: process.version, storeFileSystem: fileSystemType(dir) },
    };
  });
}

runBench(() => dispatchPassBench(process.argv.slice(2)));
