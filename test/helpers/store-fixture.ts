import { join } from "node:path";
import type { TestContext } from "node:test";
import { defer } from "./defer.ts";
import { Store } from "../../coordinator/store/store.ts";
import type { JobRow } from "../../coordinator/store/jobs-table.ts";
import type { ChunkRow } from "../../coordinator/store/chunks-table.ts";
import type { AgentRow } from "../../coordinator/store/agents-table.ts";
import type { AgentState, JobState } from "../../shared/lifecycle/states.ts";
import { tempDir } from "./temp-dir.ts";

let seq = 0;
const uniq = (prefix: string): string => `${prefix}_${process.pid}_${++seq}`;

/** A real SQLite store file in a temp dir; closed (and the dir removed) when the test ends. */
export function openTempStore(t: TestContext): { store: Store; dir: string; dbPath: string } {
  const dir = tempDir(t, "nightshift-store-");
  const dbPath = join(dir, "store.sqlite");
  const store = Store.open(dbPath);
  // defer() is LIFO: the store closes before its dir is removed.
  defer(t, () => store.close());
  return { store, dir, dbPath };
}

export interface JobFixture {
  id?: string;
  name?: string;
  state?: JobState;
  priority?: number;
  outputDir?: string;
  frameStart?: number;
  frameEnd?: number;
  seed?: number;
  modelSha256?: string;
  createdAt?: number;
  stepsJson?: string;
}

export function insertJob(store: Store, j: JobFixture = {}): JobRow {
  const id = j.id ?? uniq("job");
  store.jobs.insert({
    id,
    name: j.name ?? id,
    state: j.state ?? "queued",
    priority: j.priority ?? 0,
    specJson: "{}",
    stepsJson: j.stepsJson ?? "[]",
    recipeSha256: "",
    shotsJson: "[]",
    baseDir: "/nonexistent-base",
    outputDir: j.outputDir ?? "/nonexistent-output",
    frameStart: j.frameStart ?? 0,
    frameEnd: j.frameEnd ?? 9,
    fps: 24,
    seed: j.seed ?? 7,
    modelName: "test-model",
    modelSha256: j.modelSha256 ?? "ab".repeat(32),
    createdAt: j.createdAt ?? 1_000,
  });
  return store.jobs.get(id) as JobRow;
}

/** Inserts one pending chunk per inclusive frame range, in order; returns the rows. */
export function insertChunks(store: Store, jobId: string, ranges: ReadonlyArray<readonly [number, number]>, now = 1_000): ChunkRow[] {
  return ranges.map(([start, end], idx) => {
    const id = `${jobId}_c${idx}`;
    store.chunks.insert({ id, jobId, idx, frameStart: start, frameEnd: end, contextStart: start, contextEnd: end, updatedAt: now });
    return store.chunks.get(id) as ChunkRow;
  });
}

export function insertAgent(store: Store, a: { id?: string; state?: AgentState; now?: number } = {}): AgentRow {
  return store.agents.upsert({
    id: a.id ?? uniq("agt"),
    name: a.id ?? "test-agent",
    state: a.state ?? "online",
    version: "0.0.0-test",
    gpus: [{ name: "Test GPU", vramBytes: 8 * 2 ** 30 }],
    ramBytes: 16 * 2 ** 30,
    cpuCount: 4,
    tags: [],
    kinds: [{ kind: "model", version: "1.30.0", features: [] }],
    address: "",
    now: a.now ?? 1_000,
  });
}

export interface FarmFixture {
  store: Store;
  dir: string;
  dbPath: string;
  job: JobRow;
  chunks: ChunkRow[];
  agent: AgentRow;
}

/** A temp store holding one job with chunks (default frames 0-9 in two chunks) and one online agent. */
export function seedFarm(
  t: TestContext,
  opts: { job?: JobFixture; chunks?: ReadonlyArray<readonly [number, number]>; agentState?: AgentState } = {},
): FarmFixture {
  const { store, dir, dbPath } = openTempStore(t);
  const job = insertJob(store, opts.job);
  const chunks = insertChunks(store, job.id, opts.chunks ?? [[0, 4], [5, 9]]);
  const agent = insertAgent(store, { state: opts.agentState ?? "online" });
  return { store, dir, dbPath, job, chunks, agent };
}

/** Moves a pending chunk to queued with the given dispatch id, as the dispatcher does. */
export function queueChunk(store: Store, chunkId: string, dispatchId = uniq("dsp"), now = 1_000): string {
  store.chunks.transition(chunkId, "queued", now, { dispatchId });
  return dispatchId;
}
