import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { openDecodedFrameSource } from "../../agent/executors/frame-decoder.ts";
import { BadInputError } from "../../shared/errors.ts";
import { createFrameSource } from "../../shared/media/frame-source.ts";
import { generateFrame } from "../../shared/media/generated-frames.ts";
import { encodePng } from "../../shared/media/png-codec.ts";

/**
 * The input decoder's thread (agent/executors/frame-decoder.ts) gives the
 * pixels the calling thread would (generated input and a PNG image
 * sequence), in the order asked, keeps a bad input's error and field, and
 * checks the description at once, on the calling thread.
 */

test("generated input read on the decoder thread: the calling thread's pixels, in the order asked", async () => {
  const input = { type: "generated" as const, width: 48, height: 27, frames: 10, seed: 5 };
  const source = openDecodedFrameSource(input);
  try {
    assert.equal(await source.frameCount(), 10);
    const order = [3, 4, 5, 9, 0, 4];
    const frames = await Promise.all(order.map((i) => source.read(i)));
    for (const [k, i] of order.entries()) {
      assert.deepEqual(frames[k], generateFrame(i, 48, 27, 5), `frame ${i}`);
      // The frame arrived with a buffer of its own (transferred), not a view into a shared one.
      assert.equal(frames[k]!.data.byteLength, frames[k]!.data.buffer.byteLength);
    }
    assert.equal(source.threadReads, order.length, "every read ran on the decoder thread");
    await assert.rejects(source.read(10), (err: unknown) => err instanceof BadInputError && err.field === "frame");
  } finally {
    await source.close();
    await source.close();
  }
  await assert.rejects(source.read(0), /closed/);
});

test("an image sequence decoded on the thread: the same pixels as the calling thread's source; a bad file names itself", async () => {
  const dir = await mkdtemp(join(tmpdir(), "nightshift-decoder-"));
  try {
    for (let i = 0; i < 3; i++) await writeFile(join(dir, `f${i + 1}.png`), encodePng(generateFrame(i, 32, 18, 2)));
    await writeFile(join(dir, "f4.png"), "not a png");
    const input = { type: "image-sequence" as const, path: dir };
    const here = createFrameSource(input);
    const there = openDecodedFrameSource(input);
    try {
      for (let i = 0; i < 3; i++) assert.deepEqual(await there.read(i), await here.read(i), `frame ${i}`);
      assert.equal(there.threadReads, 3);
      await assert.rejects(there.read(3), (err: unknown) => err instanceof BadInputError && err.field === join(dir, "f4.png"));
      // The source goes on after a failed read.
      assert.deepEqual(await there.read(1), await here.read(1));
    } finally {
      await there.close();
      await here.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a bad description is refused at once, on the calling thread, naming the field", () => {
  assert.throws(
    () => openDecodedFrameSource({ type: "generated", width: 0, height: 18, frames: 3 }),
    (err: unknown) => err instanceof BadInputError && err.field === "input.width",
  );
});

test("an idle decoder thread does not keep the agent's process alive: a process that started it exits by itself", async () => {
  // The agent starts the thread when it starts, and a Blender or command agent never reads through it.
  // Before the fix the thread was unref'd before its "message" listener was added, which refs its port
  // again, so such a process never exited (a Blender end-to-end test hung after passing).
  const url = new URL("../../agent/executors/frame-decoder.ts", import.meta.url).href;
  const script = `import { prepareFrameDecoder } from ${JSON.stringify(url)};
    await prepareFrameDecoder(); console.log("started");`;
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  // Bounded: a process still running after 60 s is the bug; it is killed and the test fails.
  const killer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const [code, signal] = (await once(child, "exit")) as [number | null, NodeJS.Signals | null];
  clearTimeout(killer);
  assert.equal(out.trim(), "started", "the child started the thread");
  assert.equal(signal, null, "the child exited by itself, it was not killed");
  assert.equal(code, 0);
});

test("an agent whose model executor is built by a factory (sleep executor) starts the input decoder thread when it starts, not in its first chunk", { skip: process.platform !== "linux" && "thread names are read from /proc" }, async () => {
  // The chunk runner reads a model step's input through the decoder whatever executor runs the step; a thread
  // started inside the first chunk cost a fresh agent host process 150-200 ms of its first chunks' start (bench:scheduling).
  const url = new URL("../../agent/executors/model-factory.ts", import.meta.url).href;
  const script = `import { readdirSync, readFileSync } from "node:fs";
    import { modelFactory } from ${JSON.stringify(url)};
    const names = () => readdirSync("/proc/self/task").map((t) => { try { return readFileSync("/proc/self/task/" + t + "/comm", "utf8").trim(); } catch { return ""; } });
    const before = names().includes("ns-decoder");
    await modelFactory({ modelsDir: "/nonexistent", build: async () => { throw new Error("not built here"); } }).probe();
    let up = false;
    for (let i = 0; i < 300 && !up; i++) { up = names().includes("ns-decoder"); if (!up) await new Promise((r) => setTimeout(r, 100)); }
    console.log(JSON.stringify({ before, up }));`;
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  const killer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const [code] = (await once(child, "exit")) as [number | null];
  clearTimeout(killer);
  assert.equal(code, 0);
  assert.deepEqual(JSON.parse(out.trim()), { before: false, up: true }, "no decoder thread before probe(), one after it");
});
