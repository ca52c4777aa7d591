/**
 * Claims alone, in process, on a real SQLite store: CPU (and wall) per claim
 * when every claim has a transaction of its own (ClaimService.claim, the
 * baseline) against claims that arrive K to a turn of the event loop and
 * share one transaction (ClaimService.claimBatched, coordinator/dispatch/
 * turn-batch.ts), alternated in the same run, best of 2 rounds. Each claim
 * is the real one: agent, chunk and job reads, eligibility, the attempt
 * insert and the chunk's transition. The store is on tmpfs (/dev/shm) unless
 * --dir says otherwise; on a disk the wall figure shows the fsync per commit
 * (synchronous = FULL).
 *
 *   node --import tsx bench/claim-batch.bench.ts [--claims 2000] [--per-turn 2,8,32] [--dir PARENT]
 */
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Store } from "../coordinator/store/store.ts";
import { DEFAULT_FARM_POLICY } from "../coordinator/dispatch/farm-policy.ts";
import { ClaimService } from "../coordinator/dispatch/claim-service.ts";
import { insertAgent, insertJob } from "../test/helpers/store-fixture.ts";
import { benchLogger, fileSystemType, intFlag, intListFlag, nowSeconds, parentDirFlag, parseFlags, round, runBench, withTempDir } from "./bench-cli.ts";

const log = benchLogger("bench-claim-batch");
const AGENTS = 64;

/** A store with 64 online agents and one job of `claims` one-frame chunks, each queued with its dispatch id. */
function seed(path: string, claims: number): Store {
  const store = Store.open(path);
  const job = insertJob(store, { id: "job_claims", frameEnd: claims - 1 });
  store.tx(() => {
    for (let i = 0; i < AGENTS; i++) insertAgent(store, { id: `agt_${String(i).padStart(3, "0")}` });
    for (let i = 0; i < claims; i++) {
      const id = `${job.id}.c${String(i).padStart(5, "0")}`;
      store.chunks.insert({ id, jobId: job.id, idx: i, frameStart: i, frameEnd: i, contextStart: i, contextEnd: i, updatedAt: 1_000 });
      store.chunks.transition(id, "queued", 1_000, { dispatchId: `dsp_${i}` });
    }
  });
  return store;
}

/** CPU and wall ms per claim; perTurn 0: claim() one by one, else claimBatched, perTurn claims asked for in each turn. */
async function measure(store: Store, claims: number, perTurn: number): Promise<{ cpuMs: number; wallMs: number; batches: number }> {
  const service = new ClaimService(store, DEFAULT_FARM_POLICY, () => ({ input: null, steps: [] }), () => 2_000, log, () => undefined);
  const ask = (i: number) => [`agt_${String(i % AGENTS).padStart(3, "0")}`, `job_claims.c${String(i).padStart(5, "0")}`, `dsp_${i}`] as const;
  const cpu0 = process.cpuUsage();
  const t0 = nowSeconds();
  let skipped = 0;
  if (perTurn === 0) {
    for (let i = 0; i < claims; i++) if (service.claim(...ask(i)).skip) skipped++;
  } else {
    for (let i = 0; i < claims; i += perTurn) {
      const turn = [];
      for (let k = i; k < Math.min(claims, i + perTurn); k++) turn.push(service.claimBatched(...ask(k)));
      for (const r of await Promise.all(turn)) if (r.skip) skipped++;
    }
  }
  const wall = nowSeconds() - t0;
  const cpu = process.cpuUsage(cpu0);
  if (skipped > 0) throw new Error(`${skipped} claims were skipped: the bench's store is not what it should be`);
  return { cpuMs: (cpu.user + cpu.system) / 1000 / claims, wallMs: (wall * 1000) / claims, batches: service.batch.stats.batches };
}

async function claimBatchBench(argv: readonly string[]): Promise<Record<string, unknown>> {
  const f = parseFlags(argv, { claims: { default: "2000" }, "per-turn": { default: "2,8,32" }, dir: { default: "" } });
  const claims = intFlag("claims", f.claims, 10, 100_000);
  const turns = intListFlag("per-turn", f["per-turn"], 1, 1024);
  const parent = parentDirFlag(f.dir) ?? (existsSync("/dev/shm") ? "/dev/shm" : undefined);
  return withTempDir("nightshift-bench-claims-", parent, async (dir) => {
    const modes = [0, ...turns];
    const best = new Map(modes.map((m) => [m, { cpuMs: Infinity, wallMs: Infinity, batches: 0 }]));
    for (let round2 = 0; round2 < 2; round2++) {
      for (const m of modes) {
        const path = join(dir, "store.sqlite");
        const store = seed(path, claims);
        try {
          const r = await measure(store, claims, m);
          const b = best.get(m)!;
          best.set(m, { cpuMs: Math.min(b.cpuMs, r.cpuMs), wallMs: Math.min(b.wallMs, r.wallMs), batches: r.batches });
        } finally {
          store.close();
        }
        for (const ext of ["", "-wal", "-shm"]) rmSync(`${path}${ext}`, { force: true });
      }
    }
    const base = best.get(0)!;
    const batched: Record<string, unknown> = {};
    for (const m of turns) {
      const b = best.get(m)!;
      batched[String(m)] = { claimCpuMs: round(b.cpuMs, 4), claimWallMs: round(b.wallMs, 4), transactions: b.batches, cpuRatio: round(b.cpuMs / base.cpuMs, 3), wallRatio: round(b.wallMs / base.wallMs, 3) };
    }
    const os = await import("node:os");
    return {
      benchmark: "claim-batch",
      claims,
      oneTransactionPerClaim: { claimCpuMs: round(base.cpuMs, 4), claimWallMs: round(base.wallMs, 4) },
      batchedByClaimsPerTurn: batched,
      meaning: "CPU (user + system) and wall ms per claim; baseline: one transaction per claim (ClaimService.claim); batched: N claims asked for in one event-loop turn share one transaction (claimBatched); ratios against the baseline of the same run, best of 2 alternated rounds",
      environment: { cpus: os.cpus().length, loadAverage1m: round(os.loadavg()[0] ?? 0, 2), node: process.version, storeFileSystem: fileSystemType(dir) },
    };
  });
}

runBench(() => claimBatchBench(process.argv.slice(2)));
