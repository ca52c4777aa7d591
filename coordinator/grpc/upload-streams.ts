/**
 * Why this file exists: the coordinator's open ResultSink.UploadStream calls,
 * so that its stop can end them. An agent keeps its upload stream open while
 * it runs (agent/grpc/upload-stream.ts), and the gRPC server's graceful
 * shutdown waits for open calls: without this, every idle agent's stream
 * would hold the shutdown for its whole grace and then be cut.
 *
 * `close()` (at coordinator stop, before the graceful shutdown, as
 * ClaimStreams.close() for the claim streams) takes no new stream and tells
 * each open one to stop (upload-stream-handler.ts): it refuses uploads begun
 * after that with UNAVAILABLE, lets the uploads under way finish and be
 * answered, then ends the stream with UNAVAILABLE. The agent hands back a
 * chunk whose upload ended UNAVAILABLE (failure-kind.ts: not a render
 * failure) and opens a new stream at its next upload.
 */
import { status } from "@grpc/grpc-js";

/** One open stream, as the handler lets the registry stop it. */
export interface StoppableStream {
  /** No new upload; the stream ends once those under way are answered. */
  stop(): void;
}

export class UploadStreams {
  private readonly open = new Set<StoppableStream>();
  private closing = false;
  /** Streams opened since the start (each an agent's call and its ready round trip). */
  opened = 0;

  /** Streams open now. */
  get size(): number {
    return this.open.size;
  }

  /** Registers a new stream; false once close() was called (the handler ends it at once). */
  add(s: StoppableStream): boolean {
    if (this.closing) return false;
    this.opened++;
    this.open.add(s);
    return true;
  }

  /** The stream has ended. */
  delete(s: StoppableStream): void {
    this.open.delete(s);
  }

  /** Takes no new stream and stops every open one. Safe to call twice. */
  close(): void {
    this.closing = true;
    for (const s of [...this.open]) s.stop();
  }
}

/** The status an upload or a stream ends with when the coordinator stops. */
export function coordinatorStopping(): Error & { code: status; details: string } {
  return Object.assign(new Error("the coordinator is stopping"), { code: status.UNAVAILABLE, details: "the coordinator is stopping" });
}
