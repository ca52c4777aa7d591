import { parentPort } from "node:worker_threads";
import { createFrameSource, type FrameSource } from "../../shared/media/frame-source.ts";
import type { DecodeReply, DecodeRequest } from "./frame-decoder-messages.ts";
import { errorData } from "./thread-errors.ts";
import { nameThisThread } from "../../shared/thread-name.ts";

/**
 * The body of the input decoder's worker thread (started by frame-decoder.ts):
 * holds the frame sources the main side opened here and reads (generates, or
 * reads and decodes) one frame at a time, in arrival order, sending each back
 * with its buffer transferred. It decodes only what it is asked for: no frame
 * waits here beyond the one being decoded.
 */
if (parentPort === null) throw new Error("frame-decoder-thread.ts runs inside a worker thread only");
nameThisThread("ns-decoder");
const port = parentPort;
const sources = new Map<number, FrameSource>();
let queue: Promise<void> = Promise.resolve();

async function read(id: number, source: number, index: number): Promise<void> {
  let reply: DecodeReply;
  try {
    const s = sources.get(source);
    if (s === undefined) throw new Error(`input source ${source} is not open in the decoder thread`);
    const frame = await s.read(index);
    // A frame sharing its buffer (a pooled Buffer) is copied out: only a buffer of its own can be transferred.
    const whole = frame.data.byteOffset === 0 && frame.data.byteLength === frame.data.buffer.byteLength;
    const own = whole ? frame : { ...frame, data: frame.data.slice() };
    reply = { type: "frame", id, frame: own };
    port.postMessage(reply, [own.data.buffer as ArrayBuffer]);
  } catch (err) {
    reply = { type: "failed", id, error: errorData(err) };
    port.postMessage(reply);
  }
}

async function handle(msg: DecodeRequest): Promise<void> {
  if (msg.type === "read") return read(msg.id, msg.source, msg.index);
  if (msg.type === "open") {
    // The main side has checked the description (it opened the same source itself), so this does not throw.
    sources.set(msg.source, createFrameSource(msg.input));
    return;
  }
  const s = sources.get(msg.source);
  sources.delete(msg.source);
  await s?.close().catch(() => undefined);
}

port.on("message", (msg: DecodeRequest) => {
  // A failed open shows at that source's reads ("not open"); the queue itself never stops.
  queue = queue.then(() => handle(msg)).catch(() => undefined);
});
