import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readAhead } from "../../coordinator/provenance/read-ahead.ts";

interface Item {
  path: string;
  bytes: number;
}

/** A read whose completion the test controls, recording how many reads and bytes are held at once. */
function controlledReads(sizes: Map<string, number>) {
  const waiting: Array<{ path: string; resolve: (b: Buffer) => void; reject: (e: Error) => void }> = [];
  let open = 0;
  let openBytes = 0;
  const peak = { files: 0, bytes: 0 };
  const read = (path: string): Promise<Buffer> =>
    new Promise<Buffer>((resolve, reject) => {
      open++;
      openBytes += sizes.get(path)!;
      peak.files = Math.max(peak.files, open);
      peak.bytes = Math.max(peak.bytes, openBytes);
      waiting.push({ path, resolve, reject });
    });
  /** Consumer side: a yielded item is released (its bytes no longer held). */
  const release = (item: Item): void => {
    open--;
    openBytes -= item.bytes;
  };
  return { read, waiting, peak, release };
}

async function settle(): Promise<void> {
  await new Promise((r) => setImmediate(r));
}

test("files come back in order, whatever order their reads complete in, with at most `files` reads held", async () => {
  const items: Item[] = Array.from({ length: 20 }, (_, i) => ({ path: `f${i}`, bytes: 10 }));
  const c = controlledReads(new Map(items.map((i) => [i.path, i.bytes])));
  const got: string[] = [];
  const consume = (async () => {
    for await (const [item, data] of readAhead(items, { files: 4, bytes: 1_000 }, c.read)) {
      assert.equal(data.toString(), item.path);
      got.push(item.path);
      c.release(item);
    }
  })();
  // Complete the reads newest first, as far as the window allows each time.
  while (got.length < items.length) {
    await settle();
    const batch = c.waiting.splice(0);
    for (const w of batch.reverse()) w.resolve(Buffer.from(w.path));
  }
  await consume;
  assert.deepEqual(got, items.map((i) => i.path));
  assert.equal(c.peak.files, 4);
});

test("the bytes held stay under the budget, and a file larger than the budget is still read on its own", async () => {
  const items: Item[] = [
    { path: "a", bytes: 40 },
    { path: "b", bytes: 40 },
    { path: "c", bytes: 40 },
    { path: "huge", bytes: 500 },
    { path: "d", bytes: 40 },
  ];
  const c = controlledReads(new Map(items.map((i) => [i.path, i.bytes])));
  const got: string[] = [];
  const consume = (async () => {
    for await (const [item] of readAhead(items, { files: 8, bytes: 100 }, c.read)) {
      got.push(item.path);
      c.release(item);
    }
  })();
  while (got.length < items.length) {
    await settle();
    for (const w of c.waiting.splice(0)) w.resolve(Buffer.alloc(0));
  }
  await consume;
  assert.deepEqual(got, ["a", "b", "c", "huge", "d"]);
  assert.equal(c.peak.bytes, 500, "the large file alone, nothing beside it");
});

test("a failed read ends the walk with its error at that file's turn; the files before it came through", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ns-read-ahead-"));
  try {
    const items: Item[] = [0, 1, 2, 3, 4].map((i) => ({ path: join(dir, `f${i}.bin`), bytes: 3 }));
    for (const [i, it] of items.entries()) if (i !== 2) writeFileSync(it.path, `f${i}`);
    const got: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const [, data] of readAhead(items)) got.push(data.toString());
      })(),
      (err: NodeJS.ErrnoException) => err.code === "ENOENT" && String(err.path).endsWith("f2.bin"),
    );
    assert.deepEqual(got, ["f0", "f1"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
