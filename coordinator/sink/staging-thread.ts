/**
 * Runs inside the staging writer's worker thread (staging-writer.ts): the
 * file system work of the sink's uploads, so that none of it (opens, writes,
 * fsync trips to libuv's pool and their callbacks, removals) runs on the
 * coordinator's event loop. Each request is answered once it is done: a
 * staged frame once its bytes are written and fsynced, a directory once it is
 * fsynced, a removal once the directory is gone. Requests are started in the
 * order they come (a directory's fsync after the opens of the files made in
 * it), and the fsyncs themselves run on libuv's pool as they did on the main
 * thread, so the uploads' syncs still overlap.
 */
import { parentPort } from "node:worker_threads";
import { nameThisThread } from "../../shared/thread-name.ts";
import { fsyncDirAsync, removeDirAsync, writeFileSyncLater } from "./durable-fs.ts";
import { BAD_CHECKSUM, sha256Matches } from "./frame-checksum.ts";

/** What the thread is asked to do; `id` comes back in its answer. */
export type StagingRequest =
  | { id: number; op: "write"; path: string; data: Uint8Array; sha256?: string; syncDir?: string }
  | { id: number; op: "sync-dir"; dir: string }
  | { id: number; op: "remove-dir"; dir: string };

/** The outcome of one request: no `error` when it was done. */
export interface StagingAnswer {
  id: number;
  error?: { message: string; code?: string };
}

nameThisThread("ns-staging");

function run(r: StagingRequest): Promise<void> {
  switch (r.op) {
    case "write":
      // A frame whose bytes are not what its agent hashed is not staged (answered BAD_CHECKSUM).
      if (r.sha256 !== undefined && !sha256Matches(r.data, r.sha256)) return Promise.reject(Object.assign(new Error("sha256 mismatch"), { code: BAD_CHECKSUM }));
      return writeFileSyncLater(r.path, r.data, r.syncDir).durable;
    case "sync-dir":
      return fsyncDirAsync(r.dir);
    case "remove-dir":
      return removeDirAsync(r.dir);
  }
}

parentPort?.on("message", (r: StagingRequest) => {
  let done: Promise<void>;
  try {
    done = run(r);
  } catch (err) {
    done = Promise.reject(err as Error);
  }
  done.then(
    () => parentPort?.postMessage({ id: r.id } satisfies StagingAnswer),
    (err: unknown) => {
      const e = err as NodeJS.ErrnoException;
      parentPort?.postMessage({ id: r.id, error: { message: e?.message ?? String(err), ...(e?.code !== undefined && { code: e.code }) } } satisfies StagingAnswer);
    },
  );
});
