/**
 * Why this file exists: ResultSink.UploadStream, one long-lived stream per
 * agent carrying many chunks' uploads, so a chunk no longer pays a call's
 * set-up (HTTP/2 stream, peer guard's call start, handler start) on the
 * coordinator. Each upload is the unary Upload's messages (header, frames,
 * accounting) tagged with the agent's `uploadId`, fed through the same rules
 * (upload-steps.ts) into the same ResultSink, and answered on the stream with
 * its own UploadAnswer only once its commit is durable, or with the refusal
 * Upload would have failed with (code, details, reason). A refused upload
 * does not end the stream. The peer guard checks the agent again at every
 * upload's header after the first (coordinator/trust/peer-guard.ts), so an
 * agent removed meanwhile is refused at its next chunk, and its stream ends.
 *
 * Messages are taken one at a time, as on Upload, so a slow disk pauses the
 * whole stream by HTTP/2 flow control; a commit is not waited for before the
 * next message is read (the next chunk streams in while one commits).
 * Uploads' ids must grow: a message for an id already over (answered or
 * refused: frames still in flight when the refusal went) is dropped, since
 * nothing can change that upload's answer any more; a header or whole upload
 * under such an id is refused (bad-message), never left unanswered.
 *
 * The agent keeps its stream open while it runs; at the coordinator's stop
 * (`streams`, upload-streams.ts) a stream refuses new uploads with
 * UNAVAILABLE, answers those under way, then ends with UNAVAILABLE.
 */
import { Metadata, status as grpcStatus, type ServerDuplexStream } from "@grpc/grpc-js";
import type { UploadAnswer, UploadMessage } from "../../proto/gen/nightshift/v1/sink.ts";
import { UploadRefusedError } from "../../shared/errors.ts";
import type { Logger } from "../../shared/log.ts";
import type { ResultSink } from "../sink/result-sink.ts";
import { UPLOAD_STREAM_READY_KEY, UPLOAD_WHOLE_KEY } from "../../shared/upload-codec.ts";
import { messagesOf } from "./client-stream-messages.ts";
import { truncatedUpload, UploadSteps, type RefusalHook } from "./upload-steps.ts";
import { coordinatorStopping, type UploadStreams } from "./upload-streams.ts";

/** Uploads open at once on one stream (the agent keeps at most claim-ahead's maxFinishing + 1 of its own). */
export const MAX_OPEN_UPLOADS_PER_STREAM = 16;

export function uploadStreamHandler(sink: ResultSink, log: Logger, onRefused?: RefusalHook, streams?: UploadStreams) {
  return (call: ServerDuplexStream<UploadMessage, UploadAnswer>): void => {
    const open = new Map<number, UploadSteps>();
    const answering = new Set<Promise<void>>();
    let highest = 0;
    let ended = false;
    let stopping = false;
    /**
     * At coordinator stop, once nothing is under way and every answer is written: the stream ends with
     * UNAVAILABLE (an emitted error is sent as the call's status). With nothing left to write the status goes
     * out at once, before the message loop, which sees the error too, destroys the call (with an answer
     * still being written, the status would wait for it, and the call would be destroyed without one).
     */
    const endIfStopped = (): void => {
      if (!stopping || ended || open.size > 0 || answering.size > 0 || call.writableLength > 0) return;
      ended = true;
      streams?.delete(entry);
      call.emit("error", coordinatorStopping());
    };
    const entry = {
      stop: () => {
        stopping = true;
        endIfStopped();
      },
    };
    if (streams && !streams.add(entry)) return void call.emit("error", coordinatorStopping());
    const ready = new Metadata();
    ready.set(UPLOAD_STREAM_READY_KEY, "1");
    ready.set(UPLOAD_WHOLE_KEY, "1");
    call.sendMetadata(ready);

    const answer = (a: UploadAnswer): void => {
      if (!ended && !call.destroyed) call.write(a, endIfStopped);
    };
    const refuse = async (uploadId: number, steps: UploadSteps, err: unknown): Promise<void> => {
      open.delete(uploadId);
      const e = await steps.fail(err, log, onRefused);
      const reason = e.metadata?.get("refusal")[0];
      answer({ uploadId, outcome: { $case: "refusal", value: { code: e.code ?? 0, details: e.details ?? "", reason: typeof reason === "string" ? reason : "" } } });
    };
    const track = (p: Promise<void>): void => {
      answering.add(p);
      void p.finally(() => {
        answering.delete(p);
        endIfStopped();
      });
    };
    const commit = (uploadId: number, steps: UploadSteps): void => {
      open.delete(uploadId);
      track(
        steps.commit().then(
          (value) => answer({ uploadId, outcome: { $case: "result", value } }),
          (err: unknown) => refuse(uploadId, steps, err),
        ),
      );
    };
    const take = async (msg: UploadMessage): Promise<void> => {
      const id = msg.uploadId;
      let steps = open.get(id);
      if (!steps) {
        if (id <= highest) {
          // A message of an upload already over is dropped. One that would begin an upload under such an id breaks
          // the rule: refused, so that its agent hears of it instead of waiting for an answer that never comes.
          const begins = msg.body?.$case === "header" || msg.body?.$case === "whole";
          if (begins) await refuse(id, new UploadSteps(sink), new UploadRefusedError(`upload id ${id} is not above the last one begun on this stream (${highest})`, "bad-message"));
          return;
        }
        highest = id;
        if (stopping) return answer({ uploadId: id, outcome: { $case: "refusal", value: { code: grpcStatus.UNAVAILABLE, details: "the coordinator is stopping", reason: "" } } });
        steps = new UploadSteps(sink);
        if (open.size >= MAX_OPEN_UPLOADS_PER_STREAM) {
          return refuse(id, steps, new UploadRefusedError(`more than ${MAX_OPEN_UPLOADS_PER_STREAM} uploads open on one stream`, "too-many-uploads"));
        }
        open.set(id, steps);
      }
      try {
        await steps.take(msg);
      } catch (err) {
        await refuse(id, steps, err);
        return endIfStopped();
      }
      if (steps.complete) commit(id, steps);
    };

    const run = async (): Promise<void> => {
      for await (const msg of messagesOf<UploadMessage>(call)) await take(msg);
      // The agent has sent everything: an upload still open was cut short.
      for (const [id, steps] of [...open]) track(refuse(id, steps, truncatedUpload()));
      while (answering.size > 0) await Promise.all([...answering]);
    };
    run()
      .catch((err: unknown) => {
        // An agent that stops (or closes an idle stream) cancels it: nothing to warn about unless an upload was open.
        const fields = { err: err instanceof Error ? err.message : err, openUploads: open.size };
        if (stopping && ended) log.debug(fields, "upload stream ended at coordinator stop");
        else if (call.cancelled && open.size === 0) log.debug(fields, "upload stream cancelled by the agent");
        else log.warn(fields, call.cancelled ? "upload stream cancelled with uploads open" : "upload stream failed");
      })
      .finally(async () => {
        // Cut off (cancelled, or a broken message): what is open is dropped; a commit under way still completes.
        for (const [id, steps] of [...open]) {
          open.delete(id);
          await steps.fail(new UploadRefusedError("upload stream ended", "truncated"), log).catch(() => undefined);
        }
        while (answering.size > 0) await Promise.all([...answering]);
        streams?.delete(entry);
        if (ended) return; // ended by the coordinator's stop
        ended = true;
        if (!call.destroyed) call.end();
      });
  };
}
