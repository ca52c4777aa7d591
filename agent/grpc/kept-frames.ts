import { status as grpcStatus } from "@grpc/grpc-js";
import type { UploadMessage } from "../../proto/gen/nightshift/v1/sink.ts";

/**
 * The most bytes of frames one upload keeps in the agent's memory to send again, by default: 64 MiB (a 10-frame
 * chunk of 960x540 PNGs is about 15 MiB). At most `maxFinishing` + 1 uploads run at once (claim-ahead.ts), so an
 * agent keeps a few hundred MiB at worst. A chunk whose frames pass the bound keeps none: its upload, broken,
 * hands the chunk back as before. The agent's `keepUploadBytes` (agent/config/agent-limits.ts) sets another.
 */
export const KEEP_BYTES = 64 * 1024 * 1024;

/**
 * Why this file exists: a coordinator restart broke every upload in flight, and each agent handed its chunk
 * back to be rendered again (tenth round's soak: 4-6 chunks of lost work for 3 agents after each restart,
 * the tail of the recovery times). An upload keeps the frame messages it sent (up to KEEP_BYTES, in memory,
 * dropped when the upload settles), so that when the coordinator goes away under it the same attempt's frames
 * can be sent again, in full, to the coordinator once it is back (result-uploader.ts). The sink takes them only
 * while that attempt is still the chunk's live one (result-sink.ts checkCurrent), and commits them as any
 * upload, durable before acknowledged; otherwise it refuses and the agent drops them.
 */
export class KeptFrames {
  private readonly messages: UploadMessage[] = [];
  private bytes = 0;
  private over = false;

  constructor(private readonly limit = KEEP_BYTES) {}

  /** Keeps a frame message; past the bound, drops every kept one and keeps no more. */
  add(msg: UploadMessage): void {
    if (this.over) return;
    const size = msg.body?.$case === "frame" ? msg.body.value.data.length : 0;
    if (this.bytes + size > this.limit) {
      this.over = true;
      this.messages.length = 0;
      this.bytes = 0;
      return;
    }
    this.messages.push(msg);
    this.bytes += size;
  }

  /** Every frame message sent so far, or null when the bound was passed. */
  get all(): readonly UploadMessage[] | null {
    return this.over ? null : this.messages;
  }
}

/** True for an upload that broke because the coordinator went away (connection lost, stream ended), not a refusal. */
export function coordinatorGone(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === grpcStatus.UNAVAILABLE;
}
