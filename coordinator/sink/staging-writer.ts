/**
 * Why this file exists: the sink's file system work for an upload, off the
 * coordinator's event loop. A one-frame chunk cost the main thread a mkdir,
 * nine quick calls (open, write, close, renames) and four trips through
 * libuv's pool (the frame's fsync, the staging dir's, the target dir's, the
 * staging dir's removal), each with its callback and promise; moved to one
 * worker thread (staging-thread.ts), a trip is a message there and its
 * answer back. What is durable when does not change: a staged frame's
 * promise settles after its bytes are fsynced, a directory's after its fsync,
 * as before; only the thread that waits for them does.
 *
 * Until start() has the thread running, and for good if it cannot start or
 * dies, the same work runs in line on the calling thread (durable-fs.ts), as
 * it always did: tests and benches that never start the thread use that
 * path. A request the thread still owed when it died is failed (its outcome
 * is unknown; the upload is refused and sent again). Memory: a frame's bytes
 * are copied once into a buffer handed to the thread (transferred, not
 * copied again), and an upload keeps at most MAX_SYNCS_IN_FLIGHT staged
 * frames unanswered (result-sink.ts), so at most that many of its frames are
 * held here at once.
 */
import type { Worker } from "node:worker_threads";
import type { Logger } from "../../shared/log.ts";
import { startModuleWorker } from "../../shared/module-worker.ts";
import { fsyncDirAsync, removeDirAsync, writeFileSyncLater } from "./durable-fs.ts";
import type { StagingAnswer, StagingRequest } from "./staging-thread.ts";
import { BAD_CHECKSUM, badChecksum, checkFrameSha256 } from "./frame-checksum.ts";

// From the compiled CLI (dist/, scripts/build.mjs) the thread is its own built entry beside this chunk.
const ENTRY = new URL(import.meta.url.endsWith(".ts") ? "./staging-thread.ts" : "./staging-thread.js", import.meta.url);

/**
 * Cores a machine needs for the staging thread to pay (ResultSink#startThread).
 * The thread takes the work off the event loop but costs CPU in all (a
 * message and a wake-up each way per request): on the 2-core VM the
 * scheduling bench's coordinator used 1.09x the process CPU for 0.91x the
 * main thread's (README, "Tenth round"), and with two cores the thread's
 * work competes with the event loop for the second one anyway. Where the
 * event loop is the bound (16 cores: issue 15) the main thread's share is
 * what counts.
 */
export const STAGING_THREAD_MIN_CORES = 4;

/** A request without its id (given by ask()), per kind. */
type Request<R = StagingRequest> = R extends StagingRequest ? Omit<R, "id"> : never;

export class StagingWriter {
  private worker: Worker | undefined;
  private starting: Promise<Worker | undefined> | undefined;
  private closed = false;
  private next = 0;
  private readonly pending = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();

  constructor(private readonly log: Logger) {}

  /** True while the thread does the work (false before start() has it running, and after it is lost or closed). */
  get threaded(): boolean {
    return this.worker !== undefined;
  }

  /** Starts the thread; resolves true once it runs, false when the work stays in line. */
  async start(): Promise<boolean> {
    if (this.closed) return false;
    this.starting ??= startModuleWorker(ENTRY).then(
      (w) => {
        if (this.closed) return w.terminate().then(() => undefined);
        w.on("message", (a: StagingAnswer) => this.answered(w, a));
        w.on("error", (err) => this.lost(w, err));
        w.on("exit", (code) => this.lost(w, new Error(`staging thread exited (${code})`)));
        // After the listeners (a "message" listener refs the port again): an idle thread must not hold the process open.
        w.unref();
        this.worker = w;
        return w;
      },
      (err: unknown) => {
        this.log.warn({ err: (err as Error).message }, "staging thread could not start; staging on the main thread");
        return undefined;
      },
    );
    return (await this.starting) !== undefined;
  }

  /**
   * Writes a new staged file (never overwriting one) and fsyncs it: `durable`
   * settles once both are done, or fails (EEXIST, ENOSPC, ...). With `check`,
   * the bytes are first hashed there and a mismatch fails `durable` with the
   * frame's bad-checksum refusal, nothing written. With `syncDir` (the
   * file's dir, whose last new entry it is) the dir is fsynced too, in the
   * same trip. In line, the hash, open and write fail at once, as
   * writeFileSyncLater's do.
   */
  writeFile(path: string, data: Uint8Array, check?: { sha256: string; frame: number }, syncDir?: string): { durable: Promise<void> } {
    const w = this.worker;
    if (w === undefined) {
      if (check) checkFrameSha256(data, check.sha256, check.frame);
      return writeFileSyncLater(path, data, syncDir);
    }
    // A copy of its own to hand over: the frame's bytes may be a view into a larger message buffer.
    const copy = new Uint8Array(data.byteLength);
    copy.set(data);
    const durable = this.ask(w, { op: "write", path, data: copy, ...(check && { sha256: check.sha256 }), ...(syncDir !== undefined && { syncDir }) }, [copy.buffer]);
    if (!check) return { durable };
    const checked = durable.catch((err: NodeJS.ErrnoException) => {
      throw err.code === BAD_CHECKSUM ? badChecksum(check.frame) : err;
    });
    checked.catch(() => undefined); // reported to whoever awaits it
    return { durable: checked };
  }

  /** fsyncs a directory, so the entries made or renamed in it survive a crash. */
  syncDir(dir: string): Promise<void> {
    const w = this.worker;
    return w === undefined ? fsyncDirAsync(dir) : this.ask(w, { op: "sync-dir", dir });
  }

  /** Removes a directory: one rmdir when it is empty, else recursively. */
  removeDir(dir: string): Promise<void> {
    const w = this.worker;
    return w === undefined ? removeDirAsync(dir) : this.ask(w, { op: "remove-dir", dir });
  }

  /** Ends the thread; what it still owed fails. Safe to call twice. */
  async close(): Promise<void> {
    this.closed = true;
    const w = this.worker;
    this.worker = undefined;
    this.failPending(new Error("staging writer closed"));
    await w?.terminate();
    await this.starting;
  }

  private ask(w: Worker, r: Request, transfer: ArrayBuffer[] = []): Promise<void> {
    const id = this.next++;
    const done = new Promise<void>((resolve, reject) => {
      if (this.pending.size === 0) w.ref();
      this.pending.set(id, { resolve, reject });
    });
    w.postMessage({ ...r, id }, transfer);
    done.catch(() => undefined); // reported to whoever awaits it
    return done;
  }

  private answered(w: Worker, a: StagingAnswer): void {
    const p = this.pending.get(a.id);
    if (p === undefined) return;
    this.pending.delete(a.id);
    if (this.pending.size === 0) w.unref();
    if (a.error === undefined) p.resolve();
    else p.reject(Object.assign(new Error(a.error.message), a.error.code !== undefined ? { code: a.error.code } : {}));
  }

  /** The thread is gone: what it owed fails (done or not, nobody knows), and later work runs in line. */
  private lost(w: Worker, err: Error): void {
    if (w !== this.worker) return;
    this.worker = undefined;
    if (!this.closed) this.log.warn({ err: err.message }, "staging thread lost; staging on the main thread");
    this.failPending(err);
  }

  private failPending(err: Error): void {
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.reject(err);
    }
  }
}
