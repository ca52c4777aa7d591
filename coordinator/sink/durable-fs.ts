/**
 * Why this file exists: the sink's durable writes, each with the fewest trips
 * through libuv's thread pool (4 threads, shared with every other async fs
 * call and busy with the fsyncs of earlier frames). Opening, writing and
 * closing are quick calls made in line; only the fsync, which waits for the
 * disk, runs on the pool, so one durable write costs one trip there, not three.
 */
import { closeSync, fdatasync, fstatSync, fsync, fsyncSync, ftruncateSync, openSync, writeSync, constants } from "node:fs";
import { rm, rmdir } from "node:fs/promises";

/** Writes a whole file and fsyncs it before returning. The caller renames it into place. */
export async function writeFileDurable(path: string, data: Uint8Array): Promise<void> {
  await writeFileSyncLater(path, data).durable;
}

/**
 * Writes a whole new file (never overwriting one) and starts its fsync without
 * waiting for it: returns once the bytes are with the kernel, handing back
 * `durable`, which settles when the fsync and close are done. The caller must
 * await `durable` before it relies on the file surviving a crash; meanwhile it
 * can take the next frame. Opening and writing fail at once (EEXIST, ENOSPC).
 * With `syncDir`, that directory is fsynced too (see below).
 */
export function writeFileSyncLater(path: string, data: Uint8Array, syncDir?: string): { durable: Promise<void> } {
  const file = writeSyncLater(path, "wx", data);
  // With `syncDir` (the file's dir), its fsync starts now too, the file's entry being in it: `durable` settles after both.
  return syncDir === undefined ? file : { durable: settledBoth(file.durable, fsyncDirAsync(syncDir)) };
}

/** Settles when both have: fails with the first failure, and no rejection of either is left unhandled. */
function settledBoth(a: Promise<void>, b: Promise<void>): Promise<void> {
  const both = Promise.all([a, b]).then(() => undefined);
  both.catch(() => undefined); // reported to whoever awaits it
  return both;
}

/**
 * Replaces everything from `offset` to the end of a file with `data` and
 * starts its sync, like writeFileSyncLater. When the file keeps its size (the
 * bytes were reserved earlier) fdatasync is enough: it writes the data and
 * only the metadata needed to read it back (the size and blocks of a file
 * staged without a sync; nothing more for one synced before). Otherwise the file
 * is fully fsynced; a file longer than the new end is cut after the write,
 * never to zero first (a truncate to zero makes ext4 flush the old blocks at
 * close). With offset 0 it writes a staged file again as a whole (an EXR whose
 * provenance goes into its header, one record longer).
 */
export function rewriteSyncLater(path: string, offset: number, data: Uint8Array): { durable: Promise<void> } {
  const fd = openSync(path, "r+");
  let sameSize: boolean;
  try {
    const size = fstatSync(fd).size;
    const end = offset + data.length;
    sameSize = size === end;
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off, offset + off);
    if (size > end) ftruncateSync(fd, end);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  return { durable: fsyncAndClose(fd, sameSize) };
}

function writeSyncLater(path: string, flags: string, data: Uint8Array): { durable: Promise<void> } {
  // The write itself is synchronous: it lands in the page cache in well under a millisecond, and on the
  // thread pool it would queue behind the fsyncs of earlier frames.
  const fd = openSync(path, flags, 0o644);
  try {
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  return { durable: fsyncAndClose(fd) };
}

/**
 * fsyncs (or fdatasyncs) `fd` on the thread pool, then closes it in line (a
 * close after the sync has nothing left to flush, and on the pool it would be
 * a second trip, queued behind other frames' fsyncs); settles when both are done.
 */
function fsyncAndClose(fd: number, dataOnly = false): Promise<void> {
  const durable = new Promise<void>((resolve, reject) =>
    (dataOnly ? fdatasync : fsync)(fd, (err) => {
      try {
        closeSync(fd);
      } catch {
        // nothing to do: the sync's outcome is what the caller waits for
      }
      if (err) reject(err);
      else resolve();
    }),
  );
  durable.catch(() => undefined); // reported to whoever awaits it
  return durable;
}

/** fsyncs a directory so that renames inside it survive a crash. */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * fsyncs a directory on the thread pool, for callers that may wait without
 * holding up the event loop. The open is made in line: one trip through the
 * pool (the fsync) instead of three (open, fsync, close).
 */
export function fsyncDirAsync(dir: string): Promise<void> {
  try {
    return fsyncAndClose(openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY));
  } catch (err) {
    return Promise.reject(err as Error);
  }
}

/** Synchronous durable write, for small files. */
export function writeFileDurableSync(path: string, data: Uint8Array): void {
  const fd = openSync(path, "w", 0o644);
  try {
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Removes a directory on libuv's pool: one rmdir when it is empty (a committed upload's staging dir), else recursively. */
export function removeDirAsync(dir: string): Promise<void> {
  return rmdir(dir).catch(() => rm(dir, { recursive: true, force: true }));
}
