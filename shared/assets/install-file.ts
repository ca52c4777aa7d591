import { open, rename, mkdir } from "node:fs/promises";
import { dirname } from "node:path";

/**
 * The last step of every write into a content-addressed folder: the temporary
 * file's data reach the disk (fsync), then the file takes its final name in
 * one rename, then the folder entry is made durable. A crash leaves either no
 * asset or the whole asset, never half of one under its final name.
 */
export async function installFile(tempPath: string, finalPath: string): Promise<void> {
  const fh = await open(tempPath, "r+");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
  await mkdir(dirname(finalPath), { recursive: true });
  await rename(tempPath, finalPath);
  await syncDir(dirname(finalPath));
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r").catch(() => undefined);
  if (!fh) return;
  try {
    await fh.sync();
  } catch {
    // Some file systems refuse fsync on a directory; the rename itself still happened.
  } finally {
    await fh.close();
  }
}
