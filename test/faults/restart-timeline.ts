/**
 * Where a coordinator restart's recovery time goes (issue 15: the coordinator
 * kill is the soak's slowest recovery). A farm of real processes on loopback
 * (SoakFarm: one coordinator, N agents) renders a job; the coordinator is
 * SIGKILLed mid-job and started again, several times, and each restart is cut
 * into steps on one clock (this process's), from:
 *   kill -> new process spawned -> its start-up steps (its "coordinator ready"
 *   log: launch = Node + module load + tsx compile, store, trust, nats-server,
 *   NATS connect, wiring, recover, accounting/edge/dashboard, gRPC) ->
 *   "coordinator listening" seen -> first agent heartbeat stored -> first chunk
 *   claimed -> each chunk that was running at the kill claimed again or done.
 * Prints one JSON object (every restart, and the median of each step).
 * The processes run the CLI compiled once (as a release does); --from-source
 * runs them through tsx, which compiles the TypeScript at every start.
 *
 *   node --import tsx test/faults/restart-timeline.ts [--restarts 3] [--agents 2] [--frames 600] [--from-source]
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { SoakFarm } from "./soak-farm.ts";
import { freePort } from "../support/free-port.ts";
import { readStore } from "../support/read-store.ts";
import { generatedJob } from "../support/farm.ts";
import { buildCompiledCli } from "../support/compiled-cli.ts";

interface Restart {
  killToSpawnMs: number;
  /** The new coordinator's own steps ("coordinator ready" log), ms. */
  startUpMs: Record<string, number>;
  spawnToListeningMs: number;
  listeningToFirstHeartbeatMs: number | null;
  listeningToFirstClaimMs: number | null;
  killToFirstClaimMs: number | null;
  /** Per chunk running at the kill: ms from the kill until it was claimed again or done. */
  heldChunksBackMs: Array<number | null>;
}

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(v) || v < 1) {
    process.stderr.write(`restart-timeline: --${name} takes a positive whole number\n`);
    process.exit(2);
  }
  return v;
}

/** When cond first held (this clock, ms), or null when not within timeoutMs. Polled every 20 ms. */
async function whenTrue(cond: () => boolean, timeoutMs: number): Promise<number | null> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (cond()) return Date.now();
    await sleep(20);
  }
  return null;
}

function median(values: ReadonlyArray<number | null>): number | null {
  const v = values.filter((x): x is number => x !== null).sort((a, b) => a - b);
  return v.length === 0 ? null : (v[Math.floor((v.length - 1) / 2)] as number);
}

async function main(): Promise<number> {
  const restarts = option("restarts", 3);
  const agents = option("agents", 2);
  const frames = option("frames", 600);
  const fromSource = process.argv.includes("--from-source");
  const compiled = fromSource ? undefined : buildCompiledCli();
  const dir = mkdtempSync(join(tmpdir(), "ns-restart-timeline-"));
  const farm = new SoakFarm(dir, agents, await freePort(), undefined, undefined, compiled?.main);
  const out: Restart[] = [];
  try {
    await farm.startCoordinator();
    await farm.createToken();
    for (let i = 0; i < agents; i++) await farm.startAgent(i);
    const db = readStore(join(farm.dataDir, "nightshift.db"));
    try {
      let jobSeq = 0;
      let jobId = "";
      const submit = async (): Promise<void> => {
        const file = join(dir, `job-${jobSeq}.json`);
        writeFileSync(file, JSON.stringify(generatedJob(`timeline-${jobSeq++}`, frames, 640, 360, 10)));
        jobId = await farm.submit(file);
      };
      await submit();
      for (let r = 0; r < restarts; r++) {
        // Kill while chunks are running, after some are done (a warm farm).
        const running = (): Array<{ chunk_id: string }> => db.all<{ chunk_id: string }>(`SELECT chunk_id FROM attempts WHERE job_id = ? AND state = 'running'`, jobId);
        const doneCount = (): number => db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM chunks WHERE job_id = ? AND state = 'done'`, jobId)?.n ?? 0;
        const base = doneCount();
        if ((await whenTrue(() => doneCount() >= base + 2 && running().length > 0, 120_000)) === null) throw new Error("the farm made no progress for 120 s");
        const held = running().map((a) => a.chunk_id);
        const killAt = Date.now();
        await farm.killCoordinator();
        const spawnAt = Date.now();
        await farm.startCoordinator();
        const listeningAt = Date.now();
        const heartbeat = whenTrue(() => (db.get<{ t: number | null }>(`SELECT MAX(last_seen) AS t FROM agents`)?.t ?? 0) > listeningAt - 500, 60_000);
        const claim = whenTrue(() => (db.get<{ t: number | null }>(`SELECT MAX(created_at) AS t FROM attempts`)?.t ?? 0) > killAt, 60_000);
        const back = held.map((chunkId) =>
          whenTrue(
            () =>
              (db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM attempts WHERE chunk_id = ? AND created_at > ?`, chunkId, killAt)?.n ?? 0) > 0 ||
              db.get<{ state: string }>(`SELECT state FROM chunks WHERE id = ?`, chunkId)?.state === "done",
            60_000,
          ),
        );
        const [hbAt, claimAt, ...backAt] = await Promise.all([heartbeat, claim, ...back]);
        const restart: Restart = {
          killToSpawnMs: spawnAt - killAt,
          startUpMs: farm.coordinatorStartUpMs(),
          spawnToListeningMs: listeningAt - spawnAt,
          listeningToFirstHeartbeatMs: hbAt === null ? null : hbAt - listeningAt,
          listeningToFirstClaimMs: claimAt === null ? null : claimAt - listeningAt,
          killToFirstClaimMs: claimAt === null ? null : claimAt - killAt,
          heldChunksBackMs: backAt.map((t) => (t === null ? null : t - killAt)),
        };
        process.stderr.write(`restart-timeline: restart ${r + 1}: ${JSON.stringify(restart)}\n`);
        out.push(restart);
        if (db.get<{ state: string }>(`SELECT state FROM jobs WHERE id = ?`, jobId)?.state === "done") await submit();
        await sleep(2000);
      }
    } finally {
      db.close();
    }
  } finally {
    await farm.stopAll();
    rmSync(dir, { recursive: true, force: true });
    compiled?.remove();
  }
  const steps = [...new Set(out.flatMap((r) => Object.keys(r.startUpMs)))];
  const medians = {
    killToSpawnMs: median(out.map((r) => r.killToSpawnMs)),
    startUpMs: Object.fromEntries(steps.map((s) => [s, median(out.map((r) => r.startUpMs[s] ?? null))])),
    spawnToListeningMs: median(out.map((r) => r.spawnToListeningMs)),
    listeningToFirstHeartbeatMs: median(out.map((r) => r.listeningToFirstHeartbeatMs)),
    listeningToFirstClaimMs: median(out.map((r) => r.listeningToFirstClaimMs)),
    killToFirstClaimMs: median(out.map((r) => r.killToFirstClaimMs)),
    heldChunksBackMs: median(out.flatMap((r) => r.heldChunksBackMs)),
  };
  process.stdout.write(JSON.stringify({ cli: fromSource ? "from source (tsx)" : "compiled", restarts: out, medians }, null, 1) + "\n");
  return out.length === restarts ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`restart-timeline: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
