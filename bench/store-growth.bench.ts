/**
 * Cost as the work grows: a 21,600-frame job (a 15-minute film at 24 fps)
 * and a store holding 100 of them.
 *
 *   node --import tsx bench/store-growth.bench.ts [--jobs 100] [--frames 21600] [--chunk 24] [--dir PARENT]
 *
 * Prints one JSON object: the time to submit and plan each job (validation,
 * model check, chunk planning, one SQLite transaction: ControlApi.submit, what
 * `nightshift submit` runs on the coordinator), the store's size, and the time
 * of what `nightshift jobs` and `nightshift job show` run on the coordinator
 * (ControlApi.jobs / ControlApi.job, before gRPC) with one job in the store
 * (the baseline, same run) and with all of them. The store is a real SQLite
 * file (WAL, synchronous=FULL) under PARENT (default: the OS temp dir).
 */
import { existsSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { BUNDLED_MODELS_DIR } from "../cli/paths.ts";
import { ControlApi } from "../coordinator/control/control-api.ts";
import { JobFinisher } from "../coordinator/jobs/job-finisher.ts";
import { JobSpecs } from "../coordinator/jobs/job-specs.ts";
import { Store } from "../coordinator/store/store.ts";
import { compileTariff } from "../shared/accounting/tariff.ts";
import { benchLogger, fileSystemType, intFlag, parentDirFlag, parseFlags, percentile, round, runBench, withTempDir } from "./bench-cli.ts";

const REPEAT = 7;

/** Median wall ms of `REPEAT` calls. */
function medianMs(fn: () => unknown): number {
  const ms: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    const t = performance.now();
    fn();
    ms.push(performance.now() - t);
  }
  return percentile(ms, 50);
}

function storeBytes(path: string): number {
  return [path, `${path}-wal`].filter((p) => existsSync(p)).reduce((s, p) => s + statSync(p).size, 0);
}

async function storeGrowthBench(argv: readonly string[]): Promise<Record<string, unknown>> {
  const f = parseFlags(argv, { jobs: { default: "100" }, frames: { default: "21600" }, chunk: { default: "24" }, dir: { default: "" } });
  const jobs = intFlag("jobs", f.jobs, 2, 1000);
  const frames = intFlag("frames", f.frames, 1, 1_000_000);
  const chunk = intFlag("chunk", f.chunk, 1, 10_000);
  const log = benchLogger("bench-store-growth");
  return withTempDir("nightshift-bench-growth-", parentDirFlag(f.dir), async (dir) => {
    const dbPath = join(dir, "nightshift.db");
    mkdirSync(join(dir, "output"), { recursive: true });
    const store = Store.open(dbPath);
    try {
      const specs = new JobSpecs();
      const clock = (): number => Date.now();
      const api = new ControlApi(
        store,
        { store, outputRoot: join(dir, "output"), modelsDir: BUNDLED_MODELS_DIR, clock },
        new JobFinisher(store, specs, clock, log),
        specs,
        { compiled: compileTariff({ kind: "flat", currency: "EUR", pricePerKwh: 0.3 }), label: "flat" },
        clock,
        () => undefined,
      );
      const spec = (i: number): string =>
        JSON.stringify({
          name: `film-${i}`,
          input: { type: "generated", width: 64, height: 36, frames, fps: 24 },
          steps: [{ id: "grade", kind: "model", model: "colour-grade" }],
          chunking: { mode: "fixed", size: chunk },
          output: { path: "{job}", framePattern: "frame_{frame:06}.png" },
        });
      const submitMs: number[] = [];
      const submit = async (i: number): Promise<string> => {
        const t = performance.now();
        const s = await api.submit(spec(i), dir);
        submitMs.push(performance.now() - t);
        return s.jobId;
      };
      const first = await submit(0);
      const one = { jobsMs: medianMs(() => api.jobs()), jobShowMs: medianMs(() => api.job(first)), storeBytes: storeBytes(dbPath) };
      for (let i = 1; i < jobs; i++) await submit(i);
      const all = { jobsMs: medianMs(() => api.jobs()), jobShowMs: medianMs(() => api.job(first)), storeBytes: storeBytes(dbPath) };
      const chunks = store.db.prepare(`SELECT count(*) AS n FROM chunks`).get() as { n: number };
      return {
        benchmark: "store-growth",
        jobs,
        framesPerJob: frames,
        chunkFrames: chunk,
        chunksInStore: chunks.n,
        submitFirstMs: round(submitMs[0]!, 1),
        submitP50Ms: round(percentile(submitMs, 50), 1),
        submitMaxMs: round(Math.max(...submitMs), 1),
        storeBytesOneJob: one.storeBytes,
        storeBytesAllJobs: all.storeBytes,
        jobsListMsOneJob: round(one.jobsMs, 2),
        jobsListMsAllJobs: round(all.jobsMs, 2),
        jobsListRatio: round(all.jobsMs / one.jobsMs, 1),
        jobShowMsOneJob: round(one.jobShowMs, 2),
        jobShowMsAllJobs: round(all.jobShowMs, 2),
        jobShowRatio: round(all.jobShowMs / one.jobShowMs, 2),
        definitions: {
          submit: "ControlApi.submit: spec validation, model manifest check with sha256 verify, frame count, chunk planning and one SQLite transaction (WAL, synchronous=FULL)",
          jobsList: `ControlApi.jobs (what \`nightshift jobs\` asks the coordinator for, before gRPC); median of ${REPEAT} calls`,
          jobShow: `ControlApi.job of the first job (\`nightshift job show\`); median of ${REPEAT} calls`,
          baseline: "the same calls with one job in the store, same run; ratio = all jobs / one job",
          storeBytes: "nightshift.db plus its WAL",
        },
        tempFileSystem: fileSystemType(dir),
      };
    } finally {
      store.close();
    }
  });
}

runBench(() => storeGrowthBench(process.argv.slice(2)));
