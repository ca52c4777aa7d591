import { isDeepStrictEqual } from "node:util";
import type { Store } from "../store/store.ts";
import { rowFeed, type RowFeed } from "../store/row-changes.ts";
import { onlineAgents, queuedChunk, queuedChunks, queuedChunksWithSeq, runningAttempt, runningRows, type OnlineAgentRow, type QueuedChunk, type RunningRow } from "./snapshot-queries.ts";

/** Past this many changed chunks and attempts since the last pass, everything is read again (one scan beats that many lookups). */
const RELOAD_PAST = 512;

/**
 * The three farm-wide reads of every dispatch pass (online agents, queued
 * chunks, running attempts) kept in memory between passes. Each pass
 * re-reads only the rows SQLite reported changed since the last one
 * (store/row-changes.ts: TEMP triggers, so every writer is covered), in the
 * same order as the full reads of snapshot-queries.ts give them. A pass at 64
 * agents used to read 64 agents, ~128 queued chunks and 64 running attempts;
 * now it reads the few chunks claimed, committed or queued since.
 *
 * The rows handed out are shared between passes: frozen, never to be changed.
 * NIGHTSHIFT_CHECK_KEPT_READS=1 compares every refresh with the full reads and
 * throws on any difference (npm test sets it for every test).
 */
export class KeptReads {
  private readonly feed: RowFeed;
  private agents: readonly OnlineAgentRow[] = [];
  private readonly queued = new Map<string, QueuedChunk & { seq: number }>();
  private queuedList: readonly QueuedChunk[] | undefined;
  private readonly running = new Map<string, RunningRow>();
  /** The kept running attempts of each chunk: a chunk's change (size, speculative copy) changes their rows. */
  private readonly runningOf = new Map<string, Set<string>>();
  private runningList: readonly RunningRow[] | undefined;

  constructor(
    private readonly store: Store,
    private readonly check = process.env.NIGHTSHIFT_CHECK_KEPT_READS === "1",
  ) {
    this.feed = rowFeed(store.db);
  }

  /**
   * Brings the kept rows up to date with the store. False inside an open
   * transaction (what it holds may yet be rolled back): the caller then reads
   * the store itself, and the marks wait for the next refresh.
   */
  refresh(): boolean {
    if (this.store.db.inTransaction) return false;
    // One read transaction for every re-read (nothing is written: its COMMIT writes nothing): one snapshot,
    // and one lock taken instead of one per point read.
    this.store.db.exec("BEGIN");
    try {
      this.readChanges();
      if (this.check) this.verify();
    } finally {
      this.store.db.exec("COMMIT");
    }
    return true;
  }

  private readChanges(): void {
    const c = this.feed.take();
    if (c.reload || c.chunks.size + c.attempts.size > RELOAD_PAST) {
      this.reload();
      return;
    }
    if (c.agents.size > 0) this.agents = freezeAll(onlineAgents(this.store));
    const attempts = new Set(c.attempts);
    for (const id of c.chunks) {
      this.readQueued(id);
      for (const a of this.runningOf.get(id) ?? []) attempts.add(a);
    }
    for (const id of attempts) this.readRunning(id);
  }

  onlineAgents(): readonly OnlineAgentRow[] {
    return this.agents;
  }

  /** As queuedChunks(store). */
  queuedChunks(): readonly QueuedChunk[] {
    this.queuedList ??= [...this.queued.values()].sort(queuedOrder).map(({ chunkId, jobId, agentId, frames }) => Object.freeze({ chunkId, jobId, agentId, frames }));
    return this.queuedList;
  }

  /** As runningRows(store). */
  runningRows(): readonly RunningRow[] {
    this.runningList ??= [...this.running.values()];
    return this.runningList;
  }

  private reload(): void {
    this.agents = freezeAll(onlineAgents(this.store));
    this.queued.clear();
    for (const q of queuedChunksWithSeq(this.store)) this.queued.set(q.chunkId, Object.freeze(q));
    this.running.clear();
    this.runningOf.clear();
    for (const r of runningRows(this.store)) this.keepRunning(r);
    this.queuedList = undefined;
    this.runningList = undefined;
  }

  private readQueued(chunkId: string): void {
    const q = queuedChunk(this.store, chunkId);
    const had = this.queued.get(chunkId);
    if (q === undefined) {
      if (had === undefined) return;
      this.queued.delete(chunkId);
    } else {
      if (had !== undefined && had.agentId === q.agentId && had.frames === q.frames && had.seq === q.seq && had.jobId === q.jobId) return;
      this.queued.set(chunkId, Object.freeze(q));
    }
    this.queuedList = undefined;
  }

  private readRunning(attemptId: string): void {
    const r = runningAttempt(this.store, attemptId);
    const had = this.running.get(attemptId);
    if (had !== undefined && r !== undefined && sameRunning(had, r)) return;
    if (had !== undefined) {
      const of = this.runningOf.get(had.chunkId);
      of?.delete(attemptId);
      if (of?.size === 0) this.runningOf.delete(had.chunkId);
    }
    if (r === undefined) this.running.delete(attemptId);
    else this.keepRunning(r); // a kept attempt keeps its place (Map order); a new one, inserted last, goes last
    this.runningList = undefined;
  }

  private keepRunning(r: RunningRow): void {
    this.running.set(r.attemptId, Object.freeze(r));
    let of = this.runningOf.get(r.chunkId);
    if (!of) this.runningOf.set(r.chunkId, (of = new Set()));
    of.add(r.attemptId);
  }

  /** The kept rows against the full reads (NIGHTSHIFT_CHECK_KEPT_READS=1). */
  private verify(): void {
    const pairs: Array<[string, unknown, unknown]> = [
      ["online agents", this.onlineAgents(), onlineAgents(this.store)],
      ["queued chunks", this.queuedChunks(), queuedChunks(this.store)],
      ["running attempts", this.runningRows(), runningRows(this.store)],
    ];
    for (const [what, kept, read] of pairs) {
      if (isDeepStrictEqual(kept, read)) continue;
      const message = `kept ${what} differ from the store: kept ${JSON.stringify(kept)}, read ${JSON.stringify(read)}`;
      process.stderr.write(`${message}\n`); // a failed pass is only logged: say it where a test run shows it
      throw new Error(message);
    }
  }
}

function sameRunning(a: RunningRow, b: RunningRow): boolean {
  return (
    a.chunkId === b.chunkId &&
    a.jobId === b.jobId &&
    a.agentId === b.agentId &&
    a.startedAtMs === b.startedAtMs &&
    a.frames === b.frames &&
    a.speculative === b.speculative &&
    a.hasCopy === b.hasCopy
  );
}

/** queuedChunks()'s order: the pool (null) first, then by agent id, then by rowid (SQLite's BINARY order on ASCII ids). */
function queuedOrder(a: { agentId: string | null; seq: number }, b: { agentId: string | null; seq: number }): number {
  if (a.agentId !== b.agentId) {
    if (a.agentId === null) return -1;
    if (b.agentId === null) return 1;
    return a.agentId < b.agentId ? -1 : 1;
  }
  return a.seq - b.seq;
}

function freezeAll<T extends object>(rows: T[]): readonly T[] {
  for (const r of rows) Object.freeze(r);
  return Object.freeze(rows);
}
