import { parentPort } from "node:worker_threads";
import { encodeRgbFrame, type EncodeReply, type EncodeRequest } from "./frame-encoding.ts";
import { nameThisThread } from "../../shared/thread-name.ts";

/**
 * The body of the frame encoder's worker thread (started by frame-encoder.ts):
 * PNG-encodes and hashes each frame it is sent, in arrival order, and sends
 * the PNG back with its buffer transferred. Neither the agent's event loop
 * (uploads, heartbeats) nor the onnxruntime thread waits on the encoding.
 */
if (parentPort === null) throw new Error("frame-encoder-thread.ts runs inside a worker thread only");
nameThisThread("ns-png-encoder");
const port = parentPort;

port.on("message", (msg: EncodeRequest) => {
  if (msg.type === "close") {
    port.close();
    return;
  }
  let reply: EncodeReply;
  try {
    const pixels = encodeRgbFrame(msg.frame, msg.hash);
    // A PNG small enough to sit in Buffer's shared pool is copied out: only a buffer of its own can be transferred.
    const own = pixels.data.byteOffset === 0 && pixels.data.byteLength === pixels.data.buffer.byteLength ? pixels.data : pixels.data.slice();
    reply = { type: "encoded", id: msg.id, pixels: { ...pixels, data: own } };
    port.postMessage(reply, [own.buffer as ArrayBuffer]);
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    reply = { type: "failed", id: msg.id, name: e.name, message: e.message };
    port.postMessage(reply);
  }
});
