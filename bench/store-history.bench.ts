/**
 * What a store that keeps its history costs the per-chunk path. Two stores
 * are built the same way, one with the jobs_by_state index and one with it
 * dropped (the schema before), and measured alternately round by round in
 * one process; CPU is the process's user + system time, median over rounds.
 *
 * `passReads`: the two job reads of every dispatch pass (jobs.listInStates:
 * the open jobs; jobs.modelsInStates: their models) on a store of N jobs, each
 * with a spec of K KiB (a ComfyUI workflow is tens of KiB), one of them
 * running: CPU per pass.
 *
 * (Measured and left out: a chunk inserted into a store of 100,000 attempts
 * costs the same 11-25 us with or without an index on attempts(chunk_id).
 * The plan shows a scan of attempts for the foreign key, but SQLite runs it
 * only while a violation is outstanding.)
 *
 *   node --import tsx bench/store-history.bench.ts [--jobs 100,1000,5000] [--spec-kb 20] [--reads 200] [--rounds 5] [--dir PARENT]
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Store } from "../coordinator/store/store.ts";
import { insertJob } from "../test/helpers/store-fixture.ts";
import { intFlag, intListFlag, median, parentDirFlag, parseFlags, round, runBench, withTempDir } from "./bench-cli.ts";

function openPair(dir: string, name: string, fill: (store: Store) => void): { indexed: Store; without: Store } {
  const make = (indexed: boolean): Store => {
    const store = Store.open(join(dir, `${name}-${indexed ? "indexed" : "without"}.sqlite`));
    store.tx(() => fill(store));
    if (!indexed) store.db.exec("DROP INDEX jobs_by_state");
    return store;
  };
  return { indexed: make(true), without: make(false) };
}

/** Median CPU microseconds per unit of `measure(store)` (which returns how many units it ran) over alternated rounds, for each store. */
function alternate(pair: { indexed: Store; without: Store }, rounds: number, measure: (store: Store) => number) {
  const a: number[] = [];
  const b: number[] = [];
  const cpu = (s: Store): number => {
    const t0 = process.cpuUsage();
    const units = measure(s);
    const c = process.cpuUsage(t0);
    return (c.user + c.system) / units;
  };
  for (let r = 0; r < rounds; r++) {
    a.push(cpu(pair.indexed));
    b.push(cpu(pair.without));
  }
  pair.indexed.close();
  pair.without.close();
  return { indexedUs: round(median(a), 1), withoutUs: round(median(b), 1), ratio: round(median(a) / median(b), 3) };
}

async function main(): Promise<Record<string, unknown>> {
  const f = parseFlags(process.argv.slice(2), {
    jobs: { default: "100,1000,5000" },
    "spec-kb": { default: "20" },
    reads: { default: "200" },
    rounds: { default: "5" },
    dir: { default: "" },
  });
  const jobCounts = intListFlag("jobs", f.jobs, 2, 100_000);
  const specKb = intFlag("spec-kb", f["spec-kb"], 0, 1024);
  const reads = intFlag("reads", f.reads, 1, 100_000);
  const rounds = intFlag("rounds", f.rounds, 1, 50);
  const parent = parentDirFlag(f.dir) ?? (existsSync("/dev/shm") ? "/dev/shm" : undefined);
  return withTempDir("nightshift-bench-store-history-", parent, async (dir) => {
    const passReads: Record<string, ReturnType<typeof alternate>> = {};
    for (const n of jobCounts) {
      const spec = JSON.stringify({ steps: [], blob: "x".repeat(specKb * 1024) });
      const pair = openPair(dir, `jobs-${n}`, (store) => {
        const setSpec = store.db.prepare("UPDATE jobs SET spec_json = ? WHERE id = ?");
        for (let i = 0; i < n; i++) {
          const id = `job_${String(i).padStart(6, "0")}`;
          insertJob(store, { id, state: i === n - 1 ? "running" : "done", createdAt: 1_000 + i });
          setSpec.run(spec, id);
        }
      });
      passReads[String(n)] = alternate(pair, rounds, (store) => {
        for (let i = 0; i < reads; i++) {
          store.jobs.listInStates(["queued", "running", "paused"]);
          store.jobs.modelsInStates(["queued", "running"]);
        }
        return reads;
      });
    }
    return {
      benchmark: "store-history",
      specKb,
      reads,
      rounds,
      passReads,
      meaning:
        "CPU microseconds per dispatch pass of its two job reads (open jobs, their models) on a store of N jobs of which one is open, with the jobs_by_state index and without it (the schema before); ratio = indexed / without",
    };
  });
}

runBench(main);
