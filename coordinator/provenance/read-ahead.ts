import { readFile } from "node:fs/promises";

/**
 * Reads files back in order with a few reads in flight, for the job-end
 * manifest: one file at a time waited a full round trip through libuv's
 * thread pool per frame (164 ms for a 512-frame job at load 8, 0.5-1.5 s at
 * load 17-20, all of it on the job's tail: bench:scheduling's makespan
 * split). At most `files` reads and, past the first, `bytes` bytes (by the
 * sizes the store recorded) are held at once, so a job of 8 MiB EXRs keeps
 * the coordinator's memory bounded. Nothing blocks the event loop: the reads
 * are asynchronous, and the caller works on one file between awaits.
 */
export interface ReadAheadLimits {
  files: number;
  bytes: number;
}

export const MANIFEST_READ_AHEAD: ReadAheadLimits = { files: 8, bytes: 64 * 1024 * 1024 };

export async function* readAhead<T extends { path: string; bytes: number }>(
  items: readonly T[],
  limits: ReadAheadLimits = MANIFEST_READ_AHEAD,
  read: (path: string) => Promise<Buffer> = readFile,
): AsyncGenerator<[T, Buffer]> {
  const inFlight: Array<{ item: T; data: Promise<Buffer> }> = [];
  let next = 0;
  let held = 0;
  while (next < items.length || inFlight.length > 0) {
    while (next < items.length && inFlight.length < limits.files && (inFlight.length === 0 || held + items[next]!.bytes <= limits.bytes)) {
      const item = items[next++]!;
      const data = read(item.path);
      data.catch(() => undefined); // surfaced when its turn comes; a read after a failure is not waited for
      inFlight.push({ item, data });
      held += item.bytes;
    }
    const head = inFlight.shift()!;
    const data = await head.data;
    held -= head.item.bytes;
    yield [head.item, data];
  }
}
