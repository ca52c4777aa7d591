import type { Worker } from "node:worker_threads";
import type { Logger } from "../../shared/log.ts";
import { encodePng } from "../../shared/media/png-codec.ts";
import { startModuleWorker } from "../../shared/module-worker.ts";
import { pixelsOf, type PixelHash } from "../../shared/provenance/pixel-hash.ts";

// From the compiled CLI (dist/, scripts/build.mjs) the thread is its own built entry beside this chunk.
const ENTRY = new URL(import.meta.url.endsWith(".ts") ? "./pixel-hash-thread.ts" : "./pixel-hash-thread.js", import.meta.url);

/**
 * Computes frames' pixel hashes on one worker thread, so the sink's event loop
 * only copies the PNG there and back: the upload keeps streaming while a frame
 * is decoded, and the commit awaits the hashes it needs. In a checkout the
 * thread runs its TypeScript module bundled once by esbuild
 * (shared/module-worker.ts, as the agent's threads do; it used to register
 * tsx inside the thread: a loader thread of its own, and a few ms of CPU a
 * second while idle); it holds the process open only while a hash is
 * pending. If the thread cannot start or dies, that frame and every later
 * one is hashed on the calling thread instead (same result, logged once).
 *
 * The coordinator calls start() when it starts (open-provenance.ts), so the
 * thread's start and its first decode are paid then, not inside the first
 * job; without it the thread starts on the first hash.
 */
export class PixelHasher {
  private worker: Worker | undefined;
  /** The thread's start, once asked for; undefined when it could not start or the hasher closed first. */
  private starting: Promise<Worker | undefined> | undefined;
  private broken = false;
  private next = 0;
  private readonly pending = new Map<number, { resolve: (p: PixelHash) => void; reject: (e: Error) => void; png: Uint8Array }>();

  constructor(private readonly log: Logger) {}

  async hash(png: Uint8Array): Promise<PixelHash> {
    const worker = this.broken ? undefined : await this.started();
    // Lost or closed while it started: this thread hashes.
    if (worker === undefined || worker !== this.worker) return pixelsOf(png);
    const id = this.next++;
    return new Promise<PixelHash>((resolve, reject) => {
      if (this.pending.size === 0) worker.ref();
      this.pending.set(id, { resolve, reject, png });
      worker.postMessage({ id, png });
    });
  }

  /**
   * Starts the thread now and has it hash one small frame, so its modules are
   * loaded before the first real frame. Resolves true once the thread has
   * answered with that frame's right hash; false when hashing fell back to
   * the calling thread (the thread could not start or died) or the hasher is closed.
   */
  async start(): Promise<boolean> {
    if (this.broken) return false;
    const png = encodePng({ width: 2, height: 1, data: new Uint8Array([255, 0, 0, 0, 0, 255]) });
    const answer = await this.hash(png).catch(() => undefined);
    return !this.broken && this.worker !== undefined && answer?.sha256 === pixelsOf(png).sha256;
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    this.broken = true;
    this.failOver(undefined);
    await w?.terminate();
    await this.starting; // a thread still starting is ended as it arrives (started())
  }

  private started(): Promise<Worker | undefined> {
    this.starting ??= startModuleWorker(ENTRY).then(
      (w) => {
        if (this.broken) return w.terminate().then(() => undefined); // closed, or lost, meanwhile
        w.on("message", (m: { id: number; pixels?: PixelHash; error?: string }) => {
          const p = this.pending.get(m.id);
          if (!p) return;
          this.pending.delete(m.id);
          if (this.pending.size === 0) w.unref();
          if (m.pixels) p.resolve(m.pixels);
          else p.reject(new Error(m.error ?? "pixel hash failed"));
        });
        w.on("error", (err) => this.lost(w, err));
        w.on("exit", (code) => this.lost(w, new Error(`pixel hash thread exited (${code})`)));
        // After the listeners: adding a "message" listener refs the thread's port again, and an idle
        // ref'd thread would keep the process from exiting.
        w.unref();
        this.worker = w;
        return w;
      },
      (err: unknown) => {
        this.lost(undefined, err as Error);
        return undefined;
      },
    );
    return this.starting;
  }

  /** The thread is gone: hash what it still owed on this thread, and everything later too. */
  private lost(w: Worker | undefined, err: Error): void {
    if (this.broken || (w && w !== this.worker)) return;
    this.broken = true;
    this.worker = undefined;
    this.log.warn({ err: err.message }, "pixel hash thread unavailable; hashing on the main thread");
    this.failOver(err);
  }

  private failOver(err: Error | undefined): void {
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      if (err === undefined) p.reject(new Error("pixel hasher closed"));
      else {
        try {
          p.resolve(pixelsOf(p.png));
        } catch (e) {
          p.reject(e as Error);
        }
      }
    }
  }
}
