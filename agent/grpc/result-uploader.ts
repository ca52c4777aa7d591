import { setTimeout as sleep } from "node:timers/promises";
import { status as grpcStatus, type ServiceError } from "@grpc/grpc-js";
import type { ResultSinkClient, UploadMessage, UploadResult } from "../../proto/gen/nightshift/v1/sink.ts";
import type { ChunkAccounting } from "../../shared/accounting/chunk-accounting.ts";
import type { EncodedFrame } from "../executors/executor.ts";
import type { CoordinatorClient } from "./gateway-client.ts";
import { writerUntil, type StreamUpload } from "./upload-stream.ts";
import { HeldUpload } from "./whole-upload.ts";
import { coordinatorGone, KEEP_BYTES, KeptFrames } from "./kept-frames.ts";
import { UPLOAD_IN_PROGRESS } from "../../shared/errors.ts";
import { sha256Bytes } from "../../shared/model-manifest/model-file-hash.ts";

export interface UploadTarget {
  jobId: string;
  chunkId: string;
  attemptId: string;
  agentId: string;
  frameCount: number;
}

/**
 * How an upload travels: on the agent's one upload stream (falling back to Upload where the coordinator has
 * none; a small one as one `whole` message where the coordinator takes that: whole-upload.ts), or as its own
 * Upload call. `stream-parts`: on the stream, never whole (header, frames, accounting as an older agent sends
 * them; tests of a chunk cut mid-stream, and benches comparing the two).
 */
export type UploadVia = "stream" | "stream-parts" | "unary";

/** One Upload call, with the same face as an upload on the stream. */
function unaryUpload(sink: ResultSinkClient): StreamUpload {
  let settle!: { resolve: (r: UploadResult) => void; reject: (e: ServiceError) => void };
  const result = new Promise<UploadResult>((resolve, reject) => (settle = { resolve, reject }));
  const call = sink.upload((err, res) => (err ? settle.reject(err) : settle.resolve(res)));
  return {
    result,
    write: writerUntil(result, "upload closed", (msg) => call.write(msg), call),
    end: () => call.end(),
    cancel: () => call.cancel(),
    takesWhole: false,
  };
}

/**
 * Streams one attempt's frames to the ResultSink as they are produced, on the
 * agent's upload stream (upload-stream.ts) or as one Upload call; a small
 * upload on a stream that takes it goes as one `whole` message at its end
 * (whole-upload.ts).
 * Backpressure: when write() returns false the uploader waits for 'drain', so
 * the executor is paused by a slow sink rather than filling memory. The
 * accounting is asked for only after the last frame, so it covers the whole run.
 * When the coordinator goes away under the upload (a restart; UNAVAILABLE, not a
 * refusal), the frames go on being made and kept (kept-frames.ts, up to
 * `keepBytes`) and the whole attempt is sent again once it is back, within the
 * attempt's ack wait (sendKept); past the bound the chunk is handed back as before.
 */
export async function uploadAttempt(
  client: CoordinatorClient,
  target: UploadTarget,
  frames: AsyncIterable<EncodedFrame>,
  finish: () => Promise<ChunkAccounting>,
  signal: AbortSignal,
  via: UploadVia = "stream",
  keep: { bytes: number; withinMs: number } = { bytes: KEEP_BYTES, withinMs: 30_000 },
): Promise<UploadResult> {
  const kept = new KeptFrames(keep.bytes);
  const first = await uploadOnce(client, target, frameMessages(frames), finish, signal, via, kept);
  if ("committed" in first) return first;
  return await sendKept(client, target, first, signal, via, Date.now() + keep.withinMs);
}

/** The frames of an upload the coordinator went away under, all made and kept, with the attempt's accounting. */
interface KeptUpload {
  gone: unknown;
  messages: readonly UploadMessage[];
  acc: ChunkAccounting;
}

/** Pause between two sends of kept frames while the coordinator is not back (each send also waits for the connection). */
const RESEND_PAUSE_MS = 500;

/** Our own messages carry no id; the stream's upload puts its own on. */
function message(body: UploadMessage["body"]): UploadMessage {
  return { body, uploadId: 0 };
}

/** A frame's upload message, its sha256 taken here. */
function frameMessage(f: EncodedFrame): UploadMessage {
  return message({ $case: "frame", value: { index: f.index, data: Buffer.from(f.data.buffer, f.data.byteOffset, f.data.byteLength), sha256: sha256Bytes(f.data), format: f.format, size: f.data.length, pixelsSha256: f.pixelsSha256 ?? "" } });
}

/** Each frame's upload message as the executor makes the frame. */
async function* frameMessages(frames: AsyncIterable<EncodedFrame>): AsyncIterable<UploadMessage> {
  for await (const f of frames) yield frameMessage(f);
}

/** One upload's send; when the coordinator went away under it with every frame kept, the kept upload instead of a result. */
async function uploadOnce(
  client: CoordinatorClient,
  target: UploadTarget,
  /** The frame messages: made as the frames come (frameMessages), or the kept ones sent again as they were (replay). */
  frames: AsyncIterable<UploadMessage>,
  finish: () => Promise<ChunkAccounting>,
  signal: AbortSignal,
  via: UploadVia,
  /** Where frames are kept to send again; null: none kept (a send of kept frames). */
  kept: KeptFrames | null,
): Promise<UploadResult | KeptUpload> {
  let up: StreamUpload;
  try {
    up = (via !== "unary" ? await client.uploads.begin() : null) ?? unaryUpload(client.sink);
  } catch (err) {
    // Away already as the upload begins (a chunk that started during a restart): every frame is kept from the first.
    if (kept === null || !coordinatorGone(err) || signal.aborted) throw err;
    for await (const msg of frames) {
      kept.add(msg);
      if (kept.all === null) throw err;
    }
    return { gone: err, messages: kept.all ?? [], acc: await finish() };
  }
  const onAbort = (): void => up.cancel();
  signal.addEventListener("abort", onAbort, { once: true });
  // If the sink refuses mid-stream, stop producing frames at once.
  const failed = up.result.then(
    () => undefined,
    (err: unknown) => err,
  );
  let refused: unknown;
  void failed.then((e) => (refused = e));
  // The coordinator went away under the upload: frames are kept, not sent, while every one so far is.
  let gone: unknown;
  const keepGoing = (err: unknown): void => {
    if (kept === null || !coordinatorGone(err) || kept.all === null || signal.aborted) throw err;
    gone ??= err;
  };
  // A small upload is held and sent whole with its accounting, where the coordinator takes that (whole-upload.ts).
  let held = via === "stream" ? HeldUpload.forUpload(target, up.takesWhole) : undefined;
  try {
    if (!held) await up.write(message({ $case: "header", value: target }));
    for await (const msg of frames) {
      kept?.add(msg);
      if (gone !== undefined) {
        if (kept?.all == null) throw gone;
        continue;
      }
      if (held?.hold(msg)) continue;
      if (held) {
        // Past the bound: the header and the frames held so far go now, and the rest streams as it comes.
        const earlier = [held.header(), ...held.held()];
        held = undefined;
        for (const m of earlier) if (gone === undefined) await up.write(m).catch(keepGoing);
        if (gone !== undefined) continue;
      }
      await up.write(msg).catch(keepGoing);
    }
    const acc = await finish();
    if (gone === undefined) {
      try {
        await up.write(held ? held.whole(acc) : message({ $case: "accounting", value: acc }));
        up.end();
        return await up.result;
      } catch (err) {
        keepGoing(err);
      }
    }
    up.cancel();
    return { gone, messages: kept?.all ?? [], acc };
  } catch (err) {
    // A refusal from the sink explains the failure better than the local write error it caused; but when the
    // failure is ours (the executor threw), the sink has nothing to say and our own error is the one to report.
    const sinkAnswer = refused ?? (await Promise.race([failed, new Promise((r) => setTimeout(r, 200, undefined))]));
    up.cancel();
    const fromSink = sinkAnswer && (sinkAnswer as { code?: number }).code !== grpcStatus.CANCELLED ? sinkAnswer : undefined;
    throw fromSink ?? err;
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

/**
 * Sends a kept upload again, whole (header, every frame, accounting), until the coordinator answers or
 * `deadline`: a commit, or a refusal (the attempt is no longer live there: committed already, or lost and
 * run again; the agent then drops the frames, failure-kind.ts "refused"). Sent again while the coordinator
 * is still away, or still holds the broken upload (UPLOAD_IN_PROGRESS); past the deadline, the last error
 * (the chunk is handed back as before).
 */
async function sendKept(client: CoordinatorClient, target: UploadTarget, k: KeptUpload, signal: AbortSignal, via: UploadVia, deadline: number): Promise<UploadResult> {
  let last = k.gone;
  for (let i = 0; Date.now() < deadline && !signal.aborted; i++) {
    if (i > 0) await sleep(RESEND_PAUSE_MS, undefined, { signal }).catch(() => undefined);
    try {
      return await uploadOnce(client, target, replay(k.messages), () => Promise.resolve(k.acc), signal, via, null).then((r) => {
        if ("committed" in r) return r;
        throw r.gone;
      });
    } catch (err) {
      const inProgress = (err as ServiceError | null)?.metadata?.get?.("refusal")?.[0] === UPLOAD_IN_PROGRESS;
      if (!coordinatorGone(err) && !inProgress) throw err;
      last = err;
    }
  }
  throw last;
}

/** The kept frame messages, sent again as they were: bytes and sha256 from the first send, nothing hashed again. */
async function* replay(messages: readonly UploadMessage[]): AsyncIterable<UploadMessage> {
  for (const m of messages) if (m.body?.$case === "frame") yield m;
}
