/**
 * The two job reads of every dispatch pass (jobs.listInStates: the open jobs;
 * jobs.modelsInStates: their models) against a store that keeps its history:
 * N finished jobs, each with a spec of K KiB (a ComfyUI workflow is tens of
 * KiB), and one running job. Two stores built the same way, one with the
 * jobs_by_state index and one with it dropped (the schema before it), read
 * alternately round by round in one process; CPU is the process's user +
 * system time per pass (both reads), median over rounds.
 *
 *   node --import tsx bench/job-state-reads.bench.ts [--jobs 100,1000,5000] [--spec-kb 20] [--reads 200] [--rounds 5] [--dir PARENT]
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Store } from "../coordinator/store/store.ts";
import { insertJob } from "../test/helpers/store-fixture.ts";
import { intFlag, intListFlag, median, parentDirFlag, parseFlags, round, runBench, withTempDir } from "./bench-cli.ts";

function storeWithHistory(path: string, jobs: number, specKb: number, indexed: boolean): Store {
  const store = Store.open(path);
  const spec = JSON.stringify({ steps: [], blob: "x".repeat(specKb * 1024) });
  const setSpec = store.db.prepare("UPDATE jobs SET spec_json = ? WHERE id = ?");
  store.tx(() => {
    for (let i = 0; i < jobs; i++) {
      const id = `job_${String(i).padStart(6, "0")}`;
      insertJob(store, { id, state: i === jobs - 1 ? "running" : "done", createdAt: 1_000 + i });
      setSpec.run(spec, id);
    }
  });
  if (!indexed) store.db.exec("DROP INDEX jobs_by_state");
  return store;
}

/** CPU microseconds of one pass's two job reads, `reads` times. */
function passReadsUs(store: Store, reads: number): number {
  const t0 = process.cpuUsage();
  for (let i = 0; i < reads; i++) {
    store.jobs.listInStates(["queued", "running", "paused"]);
    store.jobs.modelsInStates(["queued", "running"]);
  }
  const c = process.cpuUsage(t0);
  return (c.user + c.system) / reads;
}

async function main(): Promise<Record<string, unknown>> {
  const f = parseFlags(process.argv.slice(2), { jobs: { default: "100,1000,5000" }, "spec-kb": { default: "20" }, reads: { default: "200" }, rounds: { default: "5" }, dir: { default: "" } });
  const counts = intListFlag("jobs", f.jobs, 2, 100_000);
  const specKb = intFlag("spec-kb", f["spec-kb"], 0, 1024);
  const reads = intFlag("reads", f.reads, 1, 100_000);
  const rounds = intFlag("rounds", f.rounds, 1, 50);
  const parent = parentDirFlag(f.dir) ?? (existsSync("/dev/shm") ? "/dev/shm" : undefined);
  return withTempDir("nightshift-bench-job-reads-", parent, async (dir) => {
    const byJobs: Record<string, { indexedUs: number; scanUs: number; ratio: number }> = {};
    for (const n of counts) {
      const indexed = storeWithHistory(join(dir, `indexed-${n}.sqlite`), n, specKb, true);
      const scan = storeWithHistory(join(dir, `scan-${n}.sqlite`), n, specKb, false);
      const a: number[] = [];
      const b: number[] = [];
      for (let r = 0; r < rounds; r++) {
        a.push(passReadsUs(indexed, reads));
        b.push(passReadsUs(scan, reads));
      }
      indexed.close();
      scan.close();
      byJobs[String(n)] = { indexedUs: round(median(a), 1), scanUs: round(median(b), 1), ratio: round(median(a) / median(b), 3) };
    }
    return {
      benchmark: "job-state-reads",
      specKb,
      reads,
      rounds,
      byJobs,
      meaning: "CPU microseconds per dispatch pass of its two job reads (open jobs, their models), with the jobs_by_state index and without it (the schema before), on a store of N jobs of which one is open; ratio = indexed / without",
    };
  });
}

runBench(main);
