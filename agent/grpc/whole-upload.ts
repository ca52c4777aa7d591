/**
 * Why this file exists: a small chunk's upload sent as one `whole` message
 * (header, every frame, accounting: UploadMessage.whole) instead of two
 * messages plus one per frame, so the coordinator's per-message work (grpc-js
 * framing and interceptors, the peer guard, decoding, the stream handler's
 * turn) runs once per chunk. Used only on a stream whose coordinator offered
 * it (UPLOAD_WHOLE_KEY); an older coordinator gets the three kinds as before.
 *
 * The frames are held here, not sent, until the accounting comes; once they
 * pass WHOLE_MAX_BYTES (or an upload announces more than WHOLE_MAX_FRAMES) the
 * upload goes as before: the header and the held frames are sent at once and
 * the rest streams. Memory: at most WHOLE_MAX_BYTES of frames held per upload,
 * which KeptFrames holds anyway (kept-frames.ts keeps every frame up to its
 * own, larger bound). What it costs: the coordinator sees nothing of a held
 * upload before its end, so a refusal it would have sent at the header (a
 * stale attempt) comes after the chunk's last frame, not during it; and a
 * frame's staging starts with the last one. What is durable when does not
 * change: the answer still comes after the commit (result-sink.ts).
 */
import type { UploadMessage } from "../../proto/gen/nightshift/v1/sink.ts";
import type { ChunkAccounting } from "../../shared/accounting/chunk-accounting.ts";
import type { UploadTarget } from "./result-uploader.ts";

/** Frame bytes an upload may hold to send whole; past it, the upload streams. */
export const WHOLE_MAX_BYTES = 256 * 1024;
/** Frames an upload may announce and still be held to send whole. */
export const WHOLE_MAX_FRAMES = 16;

export class HeldUpload {
  private readonly frames: UploadMessage[] = [];
  private bytes = 0;

  private constructor(private readonly target: UploadTarget) {}

  /** A holder for an upload small enough to be sent whole, or undefined when it should stream from the start. */
  static forUpload(target: UploadTarget, takesWhole: boolean | undefined): HeldUpload | undefined {
    return takesWhole === true && target.frameCount <= WHOLE_MAX_FRAMES ? new HeldUpload(target) : undefined;
  }

  /** The upload's header message, sent first when it streams. */
  header(): UploadMessage {
    return { body: { $case: "header", value: this.target }, uploadId: 0 };
  }

  /** Holds a frame message; false (nothing held) once holding it would pass the bound: the upload must stream. */
  hold(msg: UploadMessage): boolean {
    const size = msg.body?.$case === "frame" ? msg.body.value.data.length : 0;
    if (this.bytes + size > WHOLE_MAX_BYTES) return false;
    this.bytes += size;
    this.frames.push(msg);
    return true;
  }

  /** The frame messages held so far, oldest first (sent after the header when the upload streams after all). */
  held(): readonly UploadMessage[] {
    return this.frames;
  }

  /** The whole upload in one message. */
  whole(acc: ChunkAccounting): UploadMessage {
    const frames = this.frames.flatMap((m) => (m.body?.$case === "frame" ? [m.body.value] : []));
    return { body: { $case: "whole", value: { header: this.target, frames, accounting: acc } }, uploadId: 0 };
  }
}
