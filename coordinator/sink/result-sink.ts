import { createHash, type Hash } from "node:crypto";
import { mkdirSync, renameSync, rmSync } from "node:fs";
import { rm } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import type { Store } from "../store/store.ts";
import type { FixedJobRow } from "../store/jobs-table.ts";
import type { Clock } from "../../shared/clock.ts";
import type { Logger } from "../../shared/log.ts";
import type { ChunkAccounting } from "../../shared/accounting/chunk-accounting.ts";
import { STALE_ATTEMPT, UNKNOWN_ATTEMPT, UPLOAD_IN_PROGRESS, UploadRefusedError } from "../../shared/errors.ts";
import { fsyncDir, rewriteSyncLater, writeFileSyncLater } from "./durable-fs.ts";
import { PngFormatError, splitAtEndHashed } from "../../shared/media/png-text-chunk.ts";
import { isPng } from "../../shared/provenance/pixel-hash.ts";
import { PROVENANCE_KEYWORD, type FramePixels } from "../../shared/provenance/provenance-manifest.ts";
import type { PixelClaim, StagedExr, StagedPng } from "../provenance/frame-stamper.ts";
import { stageExr, stampStagedExr, type StagedExrFile } from "../provenance/exr-staging.ts";
import { embeddedPixelsSha256 } from "../provenance/embedded-pixels-sha256.ts";
import { ExrFormatError, isExr } from "../../shared/media/exr-header-attribute.ts";
import { stagedFrameName, stagingDirFor } from "./staging.ts";
import { GroupCommit } from "./group-commit.ts";
import { StagingRemovals } from "./staging-removals.ts";
import { STAGING_THREAD_MIN_CORES, StagingWriter } from "./staging-writer.ts";
import { badChecksum, checkFrameSha256 } from "./frame-checksum.ts";
import { supersedeOthers } from "../scheduling/copy-rules.ts";
import type { AttemptToCancel } from "../nats/agent-control.ts";
import type { SharedWrites } from "../dispatch/turn-batch.ts";

export interface UploadHeader {
  jobId: string;
  chunkId: string;
  attemptId: string;
  agentId: string;
  frameCount: number;
}

export interface IncomingFrame {
  index: number;
  data: Uint8Array;
  sha256: string;
  size: number;
  format: string;
  /** The agent's sha256 of the frame's RGB8 samples; "" or absent when it sent none. */
  pixelsSha256?: string;
}

/** Where a job's frame `index` ends up (absolute, already checked to be under the output root). */
export type FramePathResolver = (job: FixedJobRow, index: number) => string;

/**
 * Provenance for PNG and EXR frames (coordinator/provenance/frame-stamper.ts):
 * a frame's pixel hash is started when it arrives, its signed record is made
 * at the commit, when the chunk's accounting is known.
 */
export interface AttemptStamper {
  hashPixels(png: Uint8Array, claim?: PixelClaim): Promise<FramePixels>;
  recordChunks(h: UploadHeader, frames: readonly StagedPng[], frameCount: number, acc: ChunkAccounting, space?: number): Map<number, Uint8Array>;
  /** Bytes a staged PNG reserves for its record chunk (a record that fits is padded to exactly this). */
  recordSpace(h: UploadHeader, frameCount: number): number;
  /** The signed record text per EXR frame (exr-staging.ts); a stamper without it leaves EXR frames unstamped. */
  exrRecords?(h: UploadHeader, frames: readonly StagedExr[], frameCount: number, acc: ChunkAccounting): Map<number, string>;
}

export interface SinkOptions {
  outputRoot: string;
  maxFrameBytes: number;
  stamper?: AttemptStamper;
  /**
   * Other writes waiting for a transaction of this turn (the claims' TurnBatch#take), run in each commit
   * batch's transaction after its commits: one BEGIN/COMMIT and one WAL fsync for both. None: commits alone.
   */
  shareTransaction?: () => SharedWrites | undefined;
}

function refuse(reason: string, message: string): never {
  throw new UploadRefusedError(message, reason);
}

/**
 * The sink's rules, without gRPC: an upload belongs to the chunk's current
 * attempt or is refused; every frame is checked (index inside the chunk, size,
 * sha256) and staged, its fsync started at once and awaited at the commit (at
 * most MAX_SYNCS_IN_FLIGHT at a time), so the next frame streams in while the
 * disk flushes; a frame that gets a provenance record is synced once, at the
 * commit, after its record is written (stagePng, exr-staging.ts). The
 * commit waits for every staged file's sync and for one
 * fsync of the staging dir (run alongside them), then records frames, ledger,
 * attempt and chunk in one SQLite transaction, renames the staged files into
 * place and fsyncs each target dir once (off the event loop); commits that
 * arrive while another is in progress share the next transaction and round of
 * dir fsyncs (group commit, commitBatch). The agent's only
 * acknowledgement is the commit's answer, sent after all of that, so every
 * frame it covers is on disk under its final name before it is sent; what the
 * commit sets off (job end, next dispatch) and the removal of its emptied
 * staging dir run after it has gone. A crash
 * between the transaction and the target dirs' fsyncs is repaired by
 * reconcileStaging at start-up (the staging dir is removed only after them);
 * a rename that fails while running is retried by StagedCommitRetry. The
 * file work (staged writes and their hashes, fsyncs, removals) runs on the
 * staging thread once startThread() has it going (staging-writer.ts), with
 * the same order and the same waits.
 */
export class ResultSink {
  constructor(
    private readonly store: Store,
    private readonly framePath: FramePathResolver,
    private readonly opts: SinkOptions,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly onCommitted: (jobId: string) => void,
  ) {
    this.staging = new StagingWriter(log);
    this.removals = new StagingRemovals(log, (dir) => this.staging.removeDir(dir));
  }

  /** The uploads' file system work (staged writes, directory fsyncs, removals): in line until startThread(). */
  readonly staging: StagingWriter;

  /**
   * Moves the uploads' file system work to a worker thread (staging-writer.ts)
   * on a machine of at least STAGING_THREAD_MIN_CORES cores (`cores`, by
   * default this one's); resolves false when it stays in line. The
   * coordinator calls it when it starts.
   */
  startThread(cores = availableParallelism()): Promise<boolean> {
    return cores >= STAGING_THREAD_MIN_CORES ? this.staging.start() : Promise.resolve(false);
  }

  /** Ends the staging thread, once the answered commits' removals are done (drained). */
  async close(): Promise<void> {
    await this.drained();
    await this.staging.close();
  }

  get stamper(): AttemptStamper | undefined {
    return this.opts.stamper;
  }

  /** Told about a committed attempt whose frames are still staged because a rename failed; set by the coordinator. */
  onMoveFailed: (attemptId: string) => void = () => undefined;

  /** Told about the other attempt of a speculative pair when one commits (its agent should stop); set by the coordinator. */
  onSuperseded: (list: AttemptToCancel[]) => void = () => undefined;

  async begin(h: UploadHeader): Promise<UploadSession> {
    // Its two reads in one read transaction (one lock, one snapshot; nothing written).
    const { chunk } = this.store.tx(() => this.checkCurrent(h));
    const expected = chunk.frameEnd - chunk.frameStart + 1;
    if (h.frameCount !== expected) refuse("bad-header", `upload announces ${h.frameCount} frames, chunk ${h.chunkId} has ${expected}`);
    // An agent sends an attempt's frames again when its upload broke (agent/grpc/kept-frames.ts); while this
    // process still holds the broken one (not yet seen broken), the two would share one staging dir.
    if (this.uploading.has(h.attemptId)) refuse(UPLOAD_IN_PROGRESS, `attempt ${h.attemptId} has an upload in progress`);
    this.uploading.add(h.attemptId);
    const dir = stagingDirFor(this.opts.outputRoot, h.attemptId);
    // An answered commit's emptied dir, renamed (staging-removals.ts), where there is one: no removal's trip per chunk.
    if (!this.removals.reuse(dir)) freshDir(dir);
    return new UploadSession(this, h, dir, chunk.frameStart, chunk.frameEnd);
  }

  /** Attempts with an upload session open here (begun, not yet committed or aborted). */
  private readonly uploading = new Set<string>();

  /** An upload session ended (committed, or aborted with its staged frames dropped). */
  ended(attemptId: string): void {
    this.uploading.delete(attemptId);
  }

  /** Refuses unless the attempt is the chunk's live attempt, by the agent that claimed it. */
  checkCurrent(h: Pick<UploadHeader, "jobId" | "chunkId" | "attemptId" | "agentId">) {
    const attempt = this.store.attempts.get(h.attemptId);
    if (!attempt) refuse(UNKNOWN_ATTEMPT, `unknown attempt ${h.attemptId}`);
    if (attempt.agentId !== h.agentId) refuse("wrong-agent", `attempt ${h.attemptId} belongs to another agent`);
    if (attempt.chunkId !== h.chunkId || attempt.jobId !== h.jobId) refuse("bad-header", `attempt ${h.attemptId} is not for chunk ${h.chunkId}`);
    if (attempt.state !== "running") refuse(STALE_ATTEMPT, `attempt ${h.attemptId} is ${attempt.state}`);
    const chunk = this.store.chunks.get(h.chunkId);
    // The chunk's attempt, or its speculative copy (coordinator/scheduling/copy-rules.ts): the first to commit wins.
    if (!chunk || chunk.state !== "running" || (chunk.currentAttemptId !== h.attemptId && chunk.specAttemptId !== h.attemptId)) {
      refuse(STALE_ATTEMPT, `attempt ${h.attemptId} is no longer the chunk's current attempt`);
    }
    return { attempt, chunk };
  }

  isCommitted(attemptId: string): boolean {
    return this.store.attempts.get(attemptId)?.state === "committed";
  }

  /**
   * Checks a frame's index and size, and its sha256 unless `hashed` is false
   * (the staging thread checks it: StagingWriter#writeFile). With `headAt`,
   * returns the sha256 state after the frame's first `headAt` bytes, taken in
   * the same pass (a stamped PNG's file hash is finished from it at the
   * commit: stagePng).
   */
  verifyFrame(f: IncomingFrame, start: number, end: number, maxBytes = this.opts.maxFrameBytes, hashed = true, headAt?: number): Hash | undefined {
    if (f.index < start || f.index > end) refuse("frame-out-of-range", `frame ${f.index} is outside the chunk (${start}-${end})`);
    if (f.data.length !== f.size) refuse("bad-size", `frame ${f.index}: ${f.data.length} bytes received, ${f.size} announced`);
    if (f.data.length === 0 || f.data.length > maxBytes) refuse("bad-size", `frame ${f.index}: size ${f.data.length} outside 1..${maxBytes}`);
    if (!hashed) return undefined;
    if (headAt === undefined || headAt <= 0 || headAt >= f.data.length) {
      checkFrameSha256(f.data, f.sha256, f.index);
      return undefined;
    }
    const hash = createHash("sha256");
    const head = hash.update(f.data.subarray(0, headAt)).copy();
    if (hash.update(f.data.subarray(headAt)).digest("hex") !== f.sha256.toLowerCase()) throw badChecksum(f.index);
    return head;
  }

  /**
   * Commits a fully staged attempt, in a group with the other commits that
   * arrived while the one before was in progress (group-commit.ts). Each
   * settles only after its batch's transaction and the fsyncs of its target
   * dirs: see commitBatch.
   */
  commit(h: UploadHeader, dir: string, frames: ReadonlyMap<number, StagedFrame>, acc: ChunkAccounting): Promise<number> {
    return this.group.submit({ h, dir, frames, acc });
  }

  private readonly group = new GroupCommit<PendingCommit, number>((batch) => this.commitBatch(batch));

  /** Emptied staging dirs of answered commits, removed after the answer. */
  private readonly removals: StagingRemovals;

  /** Settles once the staging dirs of the commits answered so far are removed (after the answer, or kept as spares for the next uploads: staging-removals.ts). */
  drained(): Promise<void> {
    return this.removals.drained();
  }

  /**
   * One batch of commits. Synchronous from the checks to the renames, so
   * nothing interleaves: one SQLite transaction (one WAL fsync) in which each
   * commit has its own savepoint (a commit refused by its check, say a stale
   * attempt, rolls back alone and the others stand), then the renames of every
   * recorded commit. Then every directory the renames changed is fsynced once
   * for the whole batch, on the thread pool, and only then is each commit
   * answered (its emptied staging dir is removed after the answer). A commit whose renames or dir
   * fsyncs fail is recorded but kept in staging for StagedCommitRetry, as
   * before.
   */
  private async commitBatch(batch: readonly PendingCommit[]): Promise<Array<PromiseSettledResult<number>>> {
    const now = this.clock();
    // Claims waiting for this turn's transaction go in this one, after the commits (the order they had: a claim's
    // transaction came after a commit that started in the same turn); answered once it committed, as before.
    const shared = this.opts.shareTransaction?.();
    const writes: Array<() => unknown> = batch.map((c) => () => this.record(c, now));
    let outcomes: ReturnType<Store["txEach"]>;
    try {
      // One savepoint each; if SQLite dropped the whole transaction (disk full, I/O error), none of the batch stands.
      outcomes = this.store.txEach(shared ? [...writes, ...shared.fns] : writes);
    } catch (err) {
      shared?.settle({ err });
      throw err;
    }
    shared?.settle({ done: outcomes.slice(batch.length) });
    const recorded = outcomes.slice(0, batch.length).map((o): Recorded | { error: unknown } => (o.ok ? (o.value as Recorded) : { error: o.err }));
    const syncs = new Map<string, Promise<void>>();
    const moved = recorded.map((r) => {
      if ("error" in r) return r;
      try {
        const dirs = renameIntoPlace(r.targets);
        for (const d of dirs) if (!syncs.has(d)) syncs.set(d, this.staging.syncDir(d));
        return { ...r, dirs };
      } catch (err) {
        return { ...r, moveError: err };
      }
    });
    return Promise.all(
      moved.map(async (r): Promise<PromiseSettledResult<number>> => {
        if ("error" in r) return { status: "rejected", reason: r.error };
        try {
          if ("moveError" in r) throw r.moveError;
          await Promise.all(r.dirs.map((d) => syncs.get(d)));
        } catch (err) {
          // The store commit stands and the staged frames are fsynced: they are moved in later (StagedCommitRetry).
          this.log.error({ attemptId: r.c.h.attemptId, err: (err as Error).message }, "committed frames could not be moved into place; kept in staging and retried");
          this.onMoveFailed(r.c.h.attemptId);
          return { status: "rejected", reason: err };
        }
        return { status: "fulfilled", value: this.answered(r, batch.length) };
      }),
    );
  }

  /** The store rows of one commit (inside the batch's transaction); throws, rolling back its savepoint, when refused. */
  private record(c: PendingCommit, now: number): Recorded {
    const { h, dir, frames, acc } = c;
    const { attempt, chunk } = this.checkCurrent(h);
    const losers = supersedeOthers(this.store, chunk, h.attemptId, now);
    // The fixed columns alone (the frame paths, model, seed): kept facts, no statement in the commit once read.
    const job = this.store.jobs.fixed(h.jobId) as FixedJobRow;
    const targets: Array<{ from: string; to: string }> = [];
    for (let i = chunk.frameStart; i <= chunk.frameEnd; i++) {
      const f = frames.get(i);
      if (!f) refuse("missing-frames", `frame ${i} missing from upload`);
      const to = this.framePath(job, i);
      targets.push({ from: join(dir, stagedFrameName(i)), to });
      this.store.frames.upsert({
        jobId: h.jobId, frame: i, chunkId: h.chunkId, attemptId: h.attemptId, agentId: h.agentId,
        modelSha256: job.modelSha256, seed: job.seed, sha256: f.sha256, bytes: f.bytes, path: to, committedAt: now,
        fileSha256: f.fileSha256 ?? null, pixelsSha256: f.pixelsSha256 ?? null,
      });
    }
    this.store.ledger.append({ ...acc, jobId: h.jobId, chunkId: h.chunkId, attemptId: h.attemptId, agentId: h.agentId, frames: frames.size, finishedAt: now });
    // The rows checkCurrent read in this savepoint: supersedeOthers changed only the other attempts and no chunk column.
    this.store.attempts.finish(h.attemptId, "committed", now, undefined, attempt);
    this.store.chunks.transition(h.chunkId, "done", now, { currentAttemptId: h.attemptId, error: null }, chunk);
    return { c, targets, losers };
  }

  /** A commit whose frames are durable in place: its emptied staging dir and what it sets off are left for after the answer. */
  private answered(r: Recorded, batchSize: number): number {
    const { h, dir, frames } = r.c;
    this.removals.remove(dir);
    this.log.info({ jobId: h.jobId, chunkId: h.chunkId, attemptId: h.attemptId, frames: frames.size, batch: batchSize }, "attempt committed");
    // After the answer has gone: for a job's last chunk this is the job-end work (the job manifest, the video),
    // which the agent's acknowledgement must not wait for.
    setImmediate(() => {
      try {
        this.onCommitted(h.jobId);
      } catch (err) {
        this.log.error({ jobId: h.jobId, err: (err as Error).message }, "work after a commit failed");
      }
    });
    if (r.losers.length > 0) this.onSuperseded(r.losers);
    return frames.size;
  }
}

/** A staged frame as the commit records it. */
export interface StagedFrame {
  sha256: string;
  bytes: number;
  /**
   * For the job's manifest.json (coordinator/provenance/job-manifest.ts): the
   * sha256 of exactly the bytes that are fsynced and renamed into place, and
   * the pixel hash their record names (null: none). Set when the frame arrives
   * for a frame stored as sent, when its record is written for a stamped one;
   * absent (never for a frame that commits) leaves the manifest to read the file.
   */
  fileSha256?: string;
  pixelsSha256?: string | null;
}

interface PendingCommit {
  h: UploadHeader;
  dir: string;
  frames: ReadonlyMap<number, StagedFrame>;
  acc: ChunkAccounting;
}

/** A commit recorded in its batch's transaction, with the renames it still needs. */
interface Recorded {
  c: PendingCommit;
  targets: Array<{ from: string; to: string }>;
  losers: AttemptToCancel[];
}

/**
 * An empty directory at `dir`: made new in one call when it is not there (the
 * usual case), else emptied first. In line, not on the thread pool, where a
 * mkdir would wait behind the fsyncs of other uploads' frames.
 */
function freshDir(dir: string): void {
  try {
    mkdirSync(dir);
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") rmSync(dir, { recursive: true, force: true });
    else if (code !== "ENOENT") throw err;
  }
  mkdirSync(dir, { recursive: true });
}

/**
 * Renames staged files into place, making target directories as needed, and
 * returns every directory whose entries changed: each target dir, and the
 * parent of each directory made here (a new dir's own name lives there).
 * They must be fsynced before the renames count as durable.
 */
export function renameIntoPlace(targets: ReadonlyArray<{ from: string; to: string }>): string[] {
  const dirs = new Set<string>();
  for (const t of targets) {
    const d = dirname(t.to);
    // The target dir is there for every chunk but a job's first: try the rename, and make the dir only when it is missing
    // (a recursive mkdir of a dir that exists costs a mkdir and a stat per chunk).
    try {
      renameSync(t.from, t.to);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      const made = mkdirSync(d, { recursive: true });
      for (let p = d; made !== undefined; p = dirname(p)) {
        dirs.add(dirname(p));
        if (p === made || dirname(p) === p) break;
      }
      renameSync(t.from, t.to); // the source itself missing: ENOENT again, as before
    }
    dirs.add(d);
  }
  return [...dirs];
}

/** Renames staged files into place and fsyncs every changed directory, in line (start-up and retry paths). */
export function moveIntoPlace(targets: ReadonlyArray<{ from: string; to: string }>): void {
  for (const d of renameIntoPlace(targets)) fsyncDir(d);
}

/** Staged frames whose fsync may run at once, per upload: bounds open files while the disk catches up. */
export const MAX_SYNCS_IN_FLIGHT = 16;

function diskFull(err: unknown, what: string): never {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOSPC" || code === "EDQUOT") refuse("disk-full", `output root is full while ${what}`);
  throw err;
}

/** One attempt's upload in progress. */
export class UploadSession {
  private readonly frames = new Map<number, StagedFrame>();
  /** fsyncs of staged frames not yet awaited, oldest first. */
  private syncs: Array<Promise<void>> = [];
  /** Staged PNGs still waiting for their provenance record and IEND (see stagePng). */
  private readonly pngs = new Map<number, { path: string; recordAt: number; tail: Buffer; pixels: Promise<FramePixels>; pngSha256: string; head: Hash }>();
  /** Bytes each staged PNG keeps for its record chunk (AttemptStamper.recordSpace), known at the first PNG. */
  private recordSpace: number | undefined;
  /** Staged EXR frames whose record goes into their header at the commit (exr-staging.ts). */
  private readonly exrs = new Map<number, StagedExrFile>();
  private done = false;
  /** The staging dir's fsync, started with the upload's last frame (StagingWriter#writeFile): then flush starts none. */
  private dirSync: Promise<void> | undefined;

  constructor(
    private readonly sink: ResultSink,
    readonly header: UploadHeader,
    private readonly dir: string,
    private readonly start: number,
    private readonly end: number,
  ) {}

  async addFrame(f: IncomingFrame): Promise<void> {
    const stamper = this.sink.stamper;
    const stampedPng = stamper !== undefined && isPng(f.data);
    // A frame staged as it came is hashed where it is written (on the staging thread, when it runs), and
    // refused, if its sha256 is wrong, at a later frame or at the latest at the commit, before anything is recorded.
    const whole = !(stampedPng || (stamper?.exrRecords && isExr(f.data)));
    // A stamped PNG's head is the frame less its IEND (12 bytes) when it came without a record: hashed in verify's pass.
    const headHash = this.sink.verifyFrame(f, this.start, this.end, undefined, !whole, stampedPng ? f.data.length - 12 : undefined);
    if (this.frames.has(f.index)) refuse("duplicate-frame", `frame ${f.index} sent twice`);
    const path = join(this.dir, stagedFrameName(f.index));
    let asSent = false;
    try {
      if (stamper && stampedPng) await this.track(this.stagePng(stamper, path, f, headHash).durable);
      else if (!(stamper?.exrRecords && isExr(f.data) && this.stageExr(path, f))) {
        asSent = true;
        // The last frame's file is the dir's last new entry: its request also fsyncs the dir (one trip, not two).
        const last = this.frames.size + 1 === this.header.frameCount;
        const staged = this.sink.staging.writeFile(path, f.data, whole ? { sha256: f.sha256, frame: f.index } : undefined, last ? this.dir : undefined);
        if (last) this.dirSync = staged.durable;
        await this.track(staged.durable);
      }
    } catch (err) {
      if (err instanceof UploadRefusedError) throw err;
      if (err instanceof PngFormatError || err instanceof ExrFormatError) refuse("bad-frame", `frame ${f.index}: ${err.message}`);
      diskFull(err, `writing frame ${f.index}`);
    }
    // A stamped frame's ledger hash is of its bytes without any record the agent sent (a stale one), as verify reads it.
    const sha256 = this.pngs.get(f.index)?.pngSha256 ?? this.exrs.get(f.index)?.exrSha256 ?? f.sha256.toLowerCase();
    // Stored as sent: the file is the agent's bytes, and the pixel hash any record in them names (read from its chunk or header).
    this.frames.set(f.index, asSent ? { sha256, bytes: f.size, fileSha256: f.sha256.toLowerCase(), pixelsSha256: embeddedPixelsSha256(f.data) } : { sha256, bytes: f.size });
  }

  /** A stamped frame's manifest facts, once its record is written: see StagedFrame. */
  private written(index: number, fileSha256: string, pixelsSha256: string | null): void {
    const f = this.frames.get(index);
    if (f) this.frames.set(index, { ...f, fileSha256, pixelsSha256 });
  }

  /**
   * A PNG that gets a provenance record, which needs the chunk's accounting
   * (it comes last): everything before its IEND is staged now, followed by
   * zeros where record and IEND will go, and its sync starts at once, as a
   * plain frame's does, so the disk takes the bytes while the next frames
   * stream in (returned: track it); the commit writes record and IEND over
   * the zeros and fdatasyncs the file again, which then flushes only those
   * blocks, not the whole file. That is enough because nothing is acknowledged before the
   * commit: the agent's only answer is the commit's (UploadResult), sent
   * after every staged file and the staging dir are synced and the store
   * transaction is done, so a frame the agent is told about is on disk. A
   * crash before the commit leaves a staging dir of an attempt that is not
   * committed, which reconcileStaging deletes at start-up (the agent
   * uploads the chunk again); its files' contents never count. Its pixel
   * hash is the agent's, or computed off this thread meanwhile.
   */
  private stagePng(stamper: AttemptStamper, path: string, f: IncomingFrame, prefixHash: Hash | undefined): { durable: Promise<void> } {
    const { head, tail, sha256 } = splitAtEndHashed(f.data, PROVENANCE_KEYWORD, f.sha256);
    // The final file is head, record, tail: its sha256 goes on from head's at the commit (finishPngs).
    const headHash = prefixHash !== undefined && head.length + tail.length === f.data.length ? prefixHash : createHash("sha256").update(head);
    this.recordSpace ??= stamper.recordSpace(this.header, this.header.frameCount);
    const staged = Buffer.alloc(head.length + this.recordSpace + tail.length);
    head.copy(staged);
    // In line, not through the staging thread: the commit rewrites this file in line (finishPngs), so it must exist by then.
    const { durable } = writeFileSyncLater(path, staged);
    const pixels = stamper.hashPixels(f.data, f.pixelsSha256 ? { sha256: f.pixelsSha256, agentId: this.header.agentId } : undefined);
    pixels.catch(() => undefined); // awaited at the commit
    this.pngs.set(f.index, { path, recordAt: head.length, tail, pixels, pngSha256: sha256, head: headHash });
    return { durable };
  }

  /** An EXR that gets a provenance record in its header: staged now, rewritten with it and fsynced at the commit; false when it is not stamped. */
  private stageExr(path: string, f: IncomingFrame): boolean {
    const staged = stageExr(path, f.data, f.sha256);
    if (staged === undefined) return false;
    this.exrs.set(f.index, staged);
    return true;
  }

  /** Keeps at most MAX_SYNCS_IN_FLIGHT fsyncs running. */
  private async track(durable: Promise<void>): Promise<void> {
    this.syncs.push(durable);
    if (this.syncs.length > MAX_SYNCS_IN_FLIGHT) await this.syncs.shift();
  }

  /** Writes each staged PNG's signed record and its IEND in the room kept for them, starting the file's one sync. */
  private async finishPngs(acc: ChunkAccounting): Promise<void> {
    const stamper = this.sink.stamper;
    await this.finishExrs(stamper, acc);
    if (!stamper || this.pngs.size === 0) return;
    const staged = new Map<number, StagedPng>();
    for (const [index, p] of this.pngs) {
      try {
        staged.set(index, { index, pngSha256: p.pngSha256, pixels: await p.pixels });
      } catch (err) {
        refuse("bad-frame", `frame ${index}: ${(err as Error).message}`);
      }
    }
    const records = stamper.recordChunks(this.header, [...staged.values()], this.frames.size, acc, this.recordSpace);
    try {
      for (const [index, p] of this.pngs) {
        const record = records.get(index);
        // A record that did not fit (or none: the job is gone) cuts the file and syncs it whole.
        const end = record ? Buffer.concat([record, p.tail]) : p.tail;
        await this.track(rewriteSyncLater(p.path, p.recordAt, end).durable);
        this.written(index, p.head.update(end).digest("hex"), record ? (staged.get(index)?.pixels.sha256 ?? null) : null);
      }
    } catch (err) {
      diskFull(err, "finishing the staged frames");
    }
  }

  /** Writes each staged EXR again with its signed record in the header, starting the file's fsync. */
  private async finishExrs(stamper: AttemptStamper | undefined, acc: ChunkAccounting): Promise<void> {
    if (!stamper?.exrRecords || this.exrs.size === 0) return;
    const staged: StagedExr[] = [...this.exrs].map(([index, e]) => ({ index, exrSha256: e.exrSha256, pixels: e.pixels }));
    const records = stamper.exrRecords(this.header, staged, this.frames.size, acc);
    try {
      for (const [index, e] of this.exrs) {
        const record = records.get(index);
        const stamped = stampStagedExr(e.path, record);
        await this.track(stamped.durable);
        this.written(index, stamped.sha256, record === undefined ? null : e.pixels.sha256);
      }
    } catch (err) {
      diskFull(err, "finishing the staged frames");
    }
  }

  /** Every staged frame and the staging dir's entries on disk. */
  private async flush(): Promise<void> {
    const syncs = this.syncs;
    this.syncs = [];
    try {
      // Every entry is in the dir by now, so its fsync runs alongside the files' own (off the event loop:
      // claims and other uploads go on meanwhile); both are awaited before the transaction.
      await Promise.all([...syncs, this.dirSync ?? this.sink.staging.syncDir(this.dir)]);
    } catch (err) {
      diskFull(err, "flushing the staged frames");
    }
  }

  async commit(acc: ChunkAccounting): Promise<number> {
    if (this.frames.size !== this.header.frameCount) {
      refuse("missing-frames", `upload ended after ${this.frames.size} of ${this.header.frameCount} frames`);
    }
    await this.finishPngs(acc);
    await this.flush();
    try {
      const n = await this.sink.commit(this.header, this.dir, this.frames, acc);
      this.done = true;
      this.sink.ended(this.header.attemptId);
      return n;
    } catch (err) {
      // Committed in the store but not (fully) renamed: the staged frames now belong to reconcileStaging; abort must keep them.
      if (this.sink.isCommitted(this.header.attemptId)) this.done = true;
      throw err;
    }
  }

  /** Drops the staged frames of an upload that did not commit. Safe to call twice. */
  async abort(): Promise<void> {
    if (this.done) return this.sink.ended(this.header.attemptId);
    this.done = true;
    await Promise.allSettled(this.syncs);
    await rm(this.dir, { recursive: true, force: true }).finally(() => this.sink.ended(this.header.attemptId));
  }
}
