/**
 * The coordinator's store work for one chunk, in process, on a real SQLite
 * store: the pass queues it (and every fifth chunk refreshes the pass's kept
 * reads, about how often a pass runs per chunk), an agent claims it, its
 * one-frame upload is checked, staged and committed by the ResultSink, and
 * the job finisher checks the job, with a waiter and the webhook
 * notifications listening, as the coordinator wires them. No gRPC, NATS or
 * planning: what is left is what the store costs a chunk. CPU is the
 * process's user + system time (load moves it far less than wall time).
 *
 * `--before DIR` runs another checkout's code (its coordinator/ modules) the
 * same way, alternated round by round with this tree's, and prints the ratio
 * (this tree / before): the before/after of a change to the store path,
 * measured in one run. `--steps-kb N` gives the job N KiB of work-step JSON
 * (a ComfyUI workflow is tens of KiB). Store and output root are on tmpfs
 * (/dev/shm) unless --dir says otherwise, so fsyncs cost little.
 *
 * `--claims call|batched|next` says how each chunk is claimed (CLAIM_MODES below; `call` by default).
 *
 *   node --import tsx bench/chunk-store-path.bench.ts [--chunks 300] [--rounds 5] [--steps-kb 1] [--claims call] [--before DIR] [--dir PARENT]
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { benchLogger, intFlag, median, parentDirFlag, parseFlags, round, runBench, withTempDir } from "./bench-cli.ts";
import { threadCpuMs } from "./scheduling/main-thread-cpu.ts";
import { countingSql, countStatements } from "./scheduling/statement-counter.ts";

const here = resolve(fileURLToPath(new URL("..", import.meta.url)));
const log = benchLogger("bench-chunk-store-path");

/** The modules of one checkout, loaded from its own files. */
async function loadTree(root: string) {
  const m = async (p: string): Promise<Record<string, unknown>> => (await import(join(root, p))) as Record<string, unknown>;
  return {
    Store: (await m("coordinator/store/store.ts")).Store as typeof import("../coordinator/store/store.ts").Store,
    ClaimService: (await m("coordinator/dispatch/claim-service.ts")).ClaimService as typeof import("../coordinator/dispatch/claim-service.ts").ClaimService,
    policy: (await m("coordinator/dispatch/farm-policy.ts")).DEFAULT_FARM_POLICY as typeof import("../coordinator/dispatch/farm-policy.ts").DEFAULT_FARM_POLICY,
    ResultSink: (await m("coordinator/sink/result-sink.ts")).ResultSink as typeof import("../coordinator/sink/result-sink.ts").ResultSink,
    JobFinisher: (await m("coordinator/jobs/job-finisher.ts")).JobFinisher as typeof import("../coordinator/jobs/job-finisher.ts").JobFinisher,
    JobSpecs: (await m("coordinator/jobs/job-specs.ts")).JobSpecs as typeof import("../coordinator/jobs/job-specs.ts").JobSpecs,
    KeptReads: (await m("coordinator/scheduling/kept-reads.ts")).KeptReads as typeof import("../coordinator/scheduling/kept-reads.ts").KeptReads,
    farmNotifications: (await m("coordinator/notify/farm-notifications.ts")).farmNotifications as typeof import("../coordinator/notify/farm-notifications.ts").farmNotifications,
  };
}

type Tree = Awaited<ReturnType<typeof loadTree>>;

const ACC = { wallSeconds: 1, busySeconds: 1, energyJoules: 1, energySource: "estimate" as const, idleEnergyJoules: 0, peakMemoryBytes: 1, memoryKind: "ram" as const, meanWatts: 1, samples: 1 };

/**
 * How the agent claims each chunk: `call`, a claim in its own transaction (ClaimService.claim); `batched`, on the
 * claim stream (claimBatched: the turn's shared transaction), asked in the same turn as the previous chunk's
 * commit, as an agent claiming ahead does, so the commit's transaction may take it (TurnBatch#take, twelfth
 * round); `next`, a claim for the next chunk (claimNextBatched, with an idempotency key where the tree has them),
 * the pass's pick being the next pending chunk: no work message, no queue step.
 */
const CLAIM_MODES = ["call", "batched", "next"] as const;
type ClaimMode = (typeof CLAIM_MODES)[number];

/** One tree's farm: a store with one job of `total` one-frame chunks and one online agent, and the coordinator's store-side parts. */
async function farm(tree: Tree, dir: string, total: number, stepsKb: number, mode: ClaimMode) {
  const store = tree.Store.open(join(dir, "store.sqlite"));
  const jobId = "job_bench";
  const steps = [{ id: "grade", kind: "model", model: "m", modelSha256: "ab".repeat(32), window: null, params: { blob: "x".repeat(stepsKb * 1024) } }];
  store.jobs.insert({ id: jobId, name: jobId, state: "queued", priority: 0, specJson: JSON.stringify({ steps: [] }), stepsJson: JSON.stringify(steps), recipeSha256: "", shotsJson: "[]", baseDir: dir, outputDir: join(dir, "out", "job"), frameStart: 0, frameEnd: total - 1, fps: 24, seed: 1, modelName: "m", modelSha256: "ab".repeat(32), createdAt: 1 });
  store.tx(() => {
    for (let i = 0; i < total; i++) store.chunks.insert({ id: `c${String(i).padStart(6, "0")}`, jobId, idx: i, frameStart: i, frameEnd: i, contextStart: i, contextEnd: i, updatedAt: 1 });
  });
  const agentId = "agt_bench";
  store.agents.upsert({ id: agentId, name: agentId, state: "online", version: "0", gpus: [], ramBytes: 2 ** 34, cpuCount: 4, tags: [], kinds: [{ kind: "model", version: "1", features: [] }], address: "", now: 1 });
  let now = 10_000;
  const clock = (): number => now++;
  const finisher = new tree.JobFinisher(store, new tree.JobSpecs(), clock, log);
  const stop = tree.farmNotifications(store, { notify: () => undefined } as never, finisher);
  void finisher.waitFor(jobId).catch(() => undefined);
  let next = 0;
  const chunkIdOf = (n: number): string => `c${String(n).padStart(6, "0")}`;
  const claims = new tree.ClaimService(store, tree.policy, (job) => ({ input: null, steps: [{ id: "grade", kind: "model", model: job.modelName, modelSha256: job.modelSha256, window: null }] }), clock, log, () => undefined, undefined, () => [chunkIdOf(next)]);
  // The coordinator's wiring after a commit: the finisher's committed() where the tree has it (twelfth round), else its check.
  const afterCommit = (finisher as { committed?: (jobId: string) => void }).committed?.bind(finisher) ?? ((id: string) => finisher.check(id));
  // The coordinator's wiring of the shared claim/commit transaction where the tree has it (an older sink ignores the option).
  const share = { shareTransaction: () => (claims as { batch?: { take?: () => unknown } }).batch?.take?.() };
  const sink = new tree.ResultSink(store, (job, i) => join(job.outputDir, `f${i}.png`), { outputRoot: join(dir, "out"), maxFrameBytes: 1 << 20, ...(share as object) }, clock, log, afterCommit);
  // The staging thread where the tree has one (tenth round), whatever this machine's cores (the coordinator starts it from 4).
  const threaded = await (sink as { startThread?: (cores: number) => Promise<boolean> }).startThread?.(64);
  const kept = new tree.KeptReads(store, false);
  kept.refresh();
  const chunks = store.chunks as typeof store.chunks & { queuePending?: (id: string, now: number, dispatchId: string, agentId: string | null) => void };
  const data = randomBytes(1024);
  const frame = { index: 0, data, sha256: createHash("sha256").update(data).digest("hex"), size: data.length, format: "png" };
  /** The claim of chunk `n` as `mode` says; for `batched`, `beside` (the previous chunk's commit) starts in the same turn. */
  const claimOf = async (n: number, beside: () => Promise<unknown>): Promise<string> => {
    const chunkId = chunkIdOf(n);
    if (n % 5 === 0) kept.refresh();
    if (mode === "next") {
      await beside();
      const r = await (claims as { claimNextBatched: (agentId: string, key?: string) => Promise<Awaited<ReturnType<typeof claims.claimNextBatched>>> }).claimNextBatched(agentId, `key_${n}`);
      if (r.skip) throw new Error(`next claim skipped: ${r.reason}`);
      return r.attemptId;
    }
    const dispatchId = `dsp_${n}`;
    store.tx(() => (chunks.queuePending ? chunks.queuePending(chunkId, now, dispatchId, null) : chunks.transition(chunkId, "queued", now, { dispatchId, placedAgentId: null })));
    let r: Awaited<ReturnType<typeof claims.claimBatched>>;
    if (mode === "batched") [r] = await Promise.all([claims.claimBatched(agentId, chunkId, dispatchId), beside()]);
    else (await beside(), (r = claims.claim(agentId, chunkId, dispatchId)));
    if (r.skip) throw new Error(`claim skipped: ${r.reason}`);
    return r.attemptId;
  };
  /** The previous chunk's upload, staged and waiting for its commit. */
  let staged: { commit: () => Promise<unknown> } | undefined;
  /** The store work of one chunk, as the coordinator does it: its claim (beside the previous chunk's commit), its upload staged. */
  const oneChunk = async (): Promise<void> => {
    const n = next;
    const previous = staged;
    const attemptId = await claimOf(n, async () => {
      if (previous) await previous.commit();
      await new Promise((res) => setImmediate(res)); // the finisher's check runs after the commit's answer
    });
    const session = await sink.begin({ jobId, chunkId: chunkIdOf(n), attemptId, agentId, frameCount: 1 });
    await session.addFrame({ ...frame, index: n });
    staged = { commit: () => session.commit(ACC) };
    next++;
  };
  const sharedClaims = (): number | undefined => (claims as { batch?: { stats?: { shared?: number } } }).batch?.stats?.shared;
  return { oneChunk, store, threaded: threaded === true, sharedClaims, close: async () => (await staged?.commit(), stop.stop(), await (sink as { close?: () => Promise<void> }).close?.(), store.close()) };
}

async function chunkStorePathBench(argv: readonly string[]): Promise<unknown> {
  const f = parseFlags(argv, { chunks: { default: "300" }, rounds: { default: "5" }, "steps-kb": { default: "1" }, before: { default: "" }, dir: { default: "" }, claims: { default: "call" } });
  const mode = CLAIM_MODES.find((m) => m === f.claims);
  if (mode === undefined) throw new Error(`--claims: expected one of ${CLAIM_MODES.join(", ")}, got '${f.claims}'`);
  const chunks = intFlag("chunks", f.chunks, 10, 100_000);
  const rounds = intFlag("rounds", f.rounds, 1, 100);
  const stepsKb = intFlag("steps-kb", f["steps-kb"], 0, 10_000);
  const parent = parentDirFlag(f.dir) ?? (existsSync("/dev/shm") ? "/dev/shm" : undefined);
  const trees: Array<{ name: string; tree: Tree }> = [{ name: "this", tree: await loadTree(here) }];
  if (f.before !== "") trees.unshift({ name: "before", tree: await loadTree(resolve(f.before)) });
  return withTempDir("nightshift-bench-chunk-store-", parent, async (dir) => {
    // One tree after the other: each tree's shared/module-worker.ts stops esbuild's service when its own staging
    // thread's bundle is made, which would leave the other tree's build waiting for good (the process then ends
    // with nothing printed) if both were bundling at once; two trees in one process is this bench's alone.
    const farms: Array<{ name: string; tree: Tree; farm: Awaited<ReturnType<typeof farm>> }> = [];
    for (const [i, t] of trees.entries()) farms.push({ ...t, farm: await farm(t.tree, join(dir, String(i)), chunks * (rounds + 1) + 1, stepsKb, mode) });
    const usPerChunk = new Map<string, number[]>(trees.map((t) => [t.name, []]));
    const mainUsPerChunk = new Map<string, number[]>(trees.map((t) => [t.name, []]));
    // NIGHTSHIFT_BENCH_COUNT_SQL=1 (or =sites): each tree's statements over the measured rounds (the CPU figures of such a run are not comparable).
    const statements = new Map<string, ReturnType<typeof countStatements>>();
    const counted: Record<string, ReturnType<ReturnType<typeof countStatements>>> = {};
    try {
      for (const t of farms) for (let i = 0; i < chunks; i++) await t.farm.oneChunk(); // warm-up round
      if (countingSql()) for (const t of farms) statements.set(t.name, countStatements(t.farm.store as Parameters<typeof countStatements>[0]));
      for (let r = 0; r < rounds; r++) {
        for (const t of r % 2 === 0 ? farms : [...farms].reverse()) {
          const c0 = process.cpuUsage();
          const m0 = threadCpuMs();
          for (let i = 0; i < chunks; i++) await t.farm.oneChunk();
          const m1 = threadCpuMs();
          const c = process.cpuUsage(c0);
          usPerChunk.get(t.name)?.push((c.user + c.system) / chunks);
          if (m0 !== undefined && m1 !== undefined) mainUsPerChunk.get(t.name)?.push(((m1 - m0) * 1000) / chunks);
        }
      }
      for (const [name, stop] of statements) counted[name] = stop(chunks * rounds);
    } finally {
      for (const t of farms) await t.farm.close();
    }
    const med = (name: string): number => median(usPerChunk.get(name) ?? []);
    const medMain = (name: string): number => median(mainUsPerChunk.get(name) ?? []);
    const hasMain = (mainUsPerChunk.get("this") ?? []).length > 0;
    return {
      benchmark: "chunk-store-path",
      chunks,
      rounds,
      stepsKb,
      claims: mode,
      stagingThread: Object.fromEntries(farms.map((t) => [t.name, t.farm.threaded])),
      cpuUsPerChunk: round(med("this"), 1),
      ...(f.before !== "" && { beforeCpuUsPerChunk: round(med("before"), 1), ratioToBefore: round(med("this") / med("before")) }),
      ...(hasMain && { mainThreadCpuUsPerChunk: round(medMain("this"), 1) }),
      ...(hasMain && f.before !== "" && { beforeMainThreadCpuUsPerChunk: round(medMain("before"), 1), mainThreadRatioToBefore: round(medMain("this") / medMain("before")) }),
      ...(statements.size > 0 && { statementsPerChunk: Object.fromEntries(Object.entries(counted).map(([k, v]) => [k, v.statementsPerChunk])) }),
      details: {
        ...(statements.size > 0 && { statements: counted }),
        // Claims run in a commit's transaction (TurnBatch#take; a tree without it: absent), over the whole run.
        claimsInCommitTransaction: Object.fromEntries(farms.map((t) => [t.name, t.farm.sharedClaims() ?? null])),
        perRound: Object.fromEntries([...usPerChunk].map(([k, v]) => [k, v.map((x) => round(x, 1))])),
        ...(hasMain && { mainThreadPerRound: Object.fromEntries([...mainUsPerChunk].map(([k, v]) => [k, v.map((x) => round(x, 1))])) }),
        meaning:
          "CPU microseconds per chunk of the coordinator's store path (queue, kept refresh every 5th chunk, claim, upload check, commit, finisher check), median over rounds: the process's (every thread) and, as mainThread..., the main thread's alone (/proc/thread-self/stat, tenth round)",
      },
    };
  });
}

runBench(() => chunkStorePathBench(process.argv.slice(2)));
