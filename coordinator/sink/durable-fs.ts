import { closeSync, fsyncSync, openSync, writeSync, constants } from "node:fs";
import { open } from "node:fs/promises";

/** Writes a whole file and fsyncs it before returning. The caller renames it into place. */
export async function writeFileDurable(path: string, data: Uint8Array): Promise<void> {
  const fh = await open(path, "wx", 0o644);
  try {
    let off = 0;
    while (off < data.length) {
      const { bytesWritten } = await fh.write(data, off, data.length - off);
      off += bytesWritten;
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
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
