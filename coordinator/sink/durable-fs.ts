/**
 * Why this file exists: the sink's durable writes, each with the fewest trips
 * through libuv's thread pool (4 threads, shared with every other async fs
 * call and busy with the syncs of earlier frames) and the least work on the
 * event loop. A new staged frame is opened in line with O_DSYNC and written
 * on the pool: one trip that copies the bytes into the kernel and waits for
 * the disk, so the event loop never copies a frame's bytes and the frame
 * costs one trip, not two. Rewrites of staged files (provenance records) write
 * in line and sync on the pool, one trip.
 */
import { closeSync, fdatasync, fstatSync, fsync, fsyncSync, ftruncateSync, openSync, write, writeSync, constants } from "node:fs";

/** Writes a whole file and makes it durable before returning. The caller renames it into place. */
export async function writeFileDurable(path: string, data: Uint8Array): Promise<void> {
  await writeFileSyncLater(path, data).durable;
}

/**
 * Creates a new file (never overwriting one) and starts writing `data` to it
 * on the thread pool, without waiting: `durable` settles when the bytes, and
 * the metadata needed to read them back (size, blocks), are on disk, and the
 * file is closed. The file is opened with O_DSYNC, so the write returns only
 * then: what fdatasync after the write would give, in the same trip (the
 * file's name is the directory's business: fsync its dir). The caller must
 * keep `data` unchanged and await `durable` before it relies on the file
 * (its bytes are not in it before); meanwhile it can take the next frame.
 * Opening fails at once, in line (EEXIST, ENOSPC for the inode, ...); the
 * write's own errors (ENOSPC, EIO) reject `durable`.
 */
export function writeFileSyncLater(path: string, data: Uint8Array): { durable: Promise<void> } {
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_DSYNC, 0o644);
  const durable = new Promise<void>((resolve, reject) => {
    const done = (err: Error | null): void => {
      try {
        closeSync(fd);
      } catch {
        // nothing to do: the write's outcome is what the caller waits for
      }
      if (err) reject(err);
      else resolve();
    };
    // A regular file takes the whole write at once; a short one (a full disk) is continued, and its error reported.
    const writeFrom = (off: number): void =>
      write(fd, data, off, data.length - off, null, (err, n) => {
        if (err) done(err);
        else if (off + n >= data.length) done(null);
        else if (n === 0) done(new Error(`short write to ${path}: ${off} of ${data.length} bytes`));
        else writeFrom(off + n);
      });
    writeFrom(0);
  });
  durable.catch(() => undefined); // reported to whoever awaits it
  return { durable };
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
