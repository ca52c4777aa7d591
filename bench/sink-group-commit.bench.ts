/**
 * What group commit buys when many chunk commits meet: the ResultSink alone
 * (real SQLite store, real files, no gRPC), `--agents` uploads staged at once
 * and then committed at once, as when many agents finish together, against the
 * same uploads committed one after another in the same run.
 *
 *   node --import tsx bench/sink-group-commit.bench.ts [--agents 8] [--frames-per-chunk 8] [--frame-bytes 204800] [--rounds 5] [--dir PARENT] [--arrive-together true]
 *
 * Prints one JSON object: chunk commits per second in each arm (median of
 * the rounds; arms alternate, and which goes first alternates by round), each
 * commit's latency (commit call to its answer), and how many SQLite
 * transactions the commits took (outer transactions, counted around
 * Store.tx): one per commit without group commit.
 *
 * Whether the together arm's commits meet depends on when each one's staged
 * frames finish their fsyncs: on a loaded machine they may come one after
 * another and each take its own transaction. `--arrive-together true` (for
 * the smoke test) makes each of them, once flushed, wait for the round's
 * others before it goes to the group commit: then the first starts a batch
 * alone and the rest share the next, whatever the load (2 transactions a
 * round). Off by default: the figures measure the commits as they come.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { ResultSink, type UploadSession } from "../coordinator/sink/result-sink.ts";
import { Store } from "../coordinator/store/store.ts";
import { silentLogger } from "../shared/log.ts";
import type { ChunkAccounting } from "../shared/accounting/chunk-accounting.ts";
import { startAttempt } from "../test/helpers/sink-fixture.ts";
import { insertAgent, insertChunks, insertJob } from "../test/helpers/store-fixture.ts";
import { fileSystemType, intFlag, median, nowSeconds, parentDirFlag, parseFlags, percentile, round, runBench, withTempDir } from "./bench-cli.ts";

const ACC: ChunkAccounting = { wallSeconds: 1, busySeconds: 1, energyJoules: 1, energySource: "estimate", idleEnergyJoules: 0, peakMemoryBytes: 1, memoryKind: "ram", meanWatts: 1, samples: 1 };

interface Arm {
  chunksPerSecond: number[];
  commitMs: number[];
  transactions: number[];
}

async function groupCommitBench(argv: readonly string[]): Promise<Record<string, unknown>> {
  const f = parseFlags(argv, { agents: { default: "8" }, "frames-per-chunk": { default: "8" }, "frame-bytes": { default: "204800" }, rounds: { default: "5" }, dir: { default: "" }, "arrive-together": { default: "false" } });
  const agents = intFlag("agents", f.agents, 2, 256);
  const perChunk = intFlag("frames-per-chunk", f["frames-per-chunk"], 1, 64);
  const frameBytes = intFlag("frame-bytes", f["frame-bytes"], 1024, 32 * 1024 * 1024);
  const rounds = intFlag("rounds", f.rounds, 1, 50);
  const arriveTogether = f["arrive-together"] === "true";
  const payloads = Array.from({ length: 8 }, () => randomBytes(frameBytes));
  const digests = payloads.map((p) => createHash("sha256").update(p).digest("hex"));

  return withTempDir("nightshift-bench-group-commit-", parentDirFlag(f.dir), async (dir) => {
    const store = Store.open(join(dir, "store.sqlite"));
    try {
      const outputRoot = join(dir, "out");
      mkdirSync(outputRoot, { recursive: true });
      const agent = insertAgent(store);
      const sink = new ResultSink(store, (j, i) => join(j.outputDir, `frame_${String(i).padStart(6, "0")}.bin`), { outputRoot, maxFrameBytes: frameBytes }, Date.now, silentLogger(), () => undefined);
      let transactions = 0;
      let depth = 0;
      const tx = store.tx.bind(store);
      store.tx = <T>(fn: () => T): T => {
        if (depth === 0) transactions++;
        depth++;
        try {
          return tx(fn);
        } finally {
          depth--;
        }
      };

      // The door the together arm's commits wait at with --arrive-together (between their own flush and the group commit).
      let door: { arrived: Array<() => void>; size: number } | undefined;
      const toGroup = sink.commit.bind(sink);
      sink.commit = async (...args) => {
        const d = door;
        if (d !== undefined) {
          await new Promise<void>((enter) => {
            d.arrived.push(enter);
            if (d.arrived.length === d.size) for (const open of d.arrived) open();
          });
        }
        return toGroup(...args);
      };

      /** One job of `agents` chunks, each staged by its own upload session; returns the sessions, ready to commit. */
      const stage = async (name: string): Promise<UploadSession[]> => {
        const job = insertJob(store, { frameEnd: agents * perChunk - 1, outputDir: join(outputRoot, name) });
        const chunks = insertChunks(store, job.id, Array.from({ length: agents }, (_, a) => [a * perChunk, (a + 1) * perChunk - 1] as const));
        const sessions: UploadSession[] = [];
        for (const [a, chunk] of chunks.entries()) {
          const attemptId = `att_${name}_${a}`;
          startAttempt(store, chunk.id, agent.id, attemptId);
          sessions.push(await sink.begin({ jobId: job.id, chunkId: chunk.id, attemptId, agentId: agent.id, frameCount: perChunk }));
        }
        for (let i = 0; i < perChunk; i++) {
          for (const [a, s] of sessions.entries()) {
            const k = (a + i) % payloads.length;
            await s.addFrame({ index: a * perChunk + i, data: payloads[k]!, sha256: digests[k]!, size: frameBytes, format: "bin" });
          }
        }
        return sessions;
      };
      const timed = async (s: UploadSession, into: number[]): Promise<void> => {
        const t = nowSeconds();
        await s.commit(ACC);
        into.push((nowSeconds() - t) * 1000);
      };
      const arms: Record<"serial" | "together", Arm> = { serial: { chunksPerSecond: [], commitMs: [], transactions: [] }, together: { chunksPerSecond: [], commitMs: [], transactions: [] } };
      for (let r = 0; r < rounds; r++) {
        for (const arm of r % 2 === 0 ? (["serial", "together"] as const) : (["together", "serial"] as const)) {
          const sessions = await stage(`${arm}${r}`);
          const before = transactions;
          door = arm === "together" && arriveTogether ? { arrived: [], size: agents } : undefined;
          const t = nowSeconds();
          if (arm === "serial") for (const s of sessions) await timed(s, arms[arm].commitMs);
          else await Promise.all(sessions.map((s) => timed(s, arms[arm].commitMs)));
          arms[arm].chunksPerSecond.push(agents / (nowSeconds() - t));
          arms[arm].transactions.push(transactions - before);
        }
      }
      const summary = (a: Arm) => ({
        chunksPerSecond: round(median(a.chunksPerSecond), 1),
        commitMs: { p50: round(percentile(a.commitMs, 50), 1), p90: round(percentile(a.commitMs, 90), 1) },
        transactionsPerRound: round(median(a.transactions), 1),
        runs: a.chunksPerSecond.map((v) => round(v, 1)),
      });
      return {
        benchmark: "sink-group-commit",
        agents,
        framesPerChunk: perChunk,
        frameBytes,
        rounds,
        arriveTogether,
        serial: summary(arms.serial),
        together: summary(arms.together),
        ratio: round(median(arms.together.chunksPerSecond) / median(arms.serial.chunksPerSecond), 3),
        definitions: {
          serial: "the round's chunk commits (UploadSession.commit) one after another, each awaited: the baseline, from the same run",
          together: "the same number of staged chunks committed at once (Promise.all), as when many agents finish together",
          chunksPerSecond: "chunks committed over the time from the first commit call to the last answer; median of the rounds",
          transactionsPerRound: "outer SQLite transactions (Store.tx) the round's commits took",
          arriveTogether: "true: the together arm's commits, each once its frames were flushed, went to the group commit at the same moment (for tests); false: as they came",
        },
        tempFileSystem: fileSystemType(dir),
      };
    } finally {
      store.close();
    }
  });
}

runBench(() => groupCommitBench(process.argv.slice(2)));
