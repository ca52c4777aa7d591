/**
 * Why this file exists: the agent's end of ResultSink.UploadStream, one
 * long-lived stream to the coordinator carrying every chunk's upload, so a
 * chunk does not pay a call's set-up (README, "Result uploads over one
 * stream"). The stream is opened when the agent starts (warm), else at the first upload, and used only
 * once the coordinator's ready metadata arrived; an UNIMPLEMENTED there (an
 * older coordinator) makes every later upload go by Upload, for good.
 *
 * Each upload has its own id on the stream; its messages may interleave with
 * another's (a chunk streams its frames while the one before commits), and
 * its answer (commit result or refusal) settles it alone: a refusal rejects
 * with what the unary Upload would have failed with (the gRPC code, details
 * and `refusal` metadata), so the agent's failure handling (failure-kind.ts)
 * is the same. When the stream breaks, every upload not yet answered rejects
 * with the stream's error, exactly as their own calls would have when the
 * connection dropped, and the next upload opens a new stream. What follows
 * is the uploader's (result-uploader.ts, kept-frames.ts): an upload whose
 * frames it kept is sent again whole on the new stream (committed once, or
 * refused when its attempt is no longer live); one too large to keep is
 * handed back, its attempt fenced and its chunk run again under a new
 * attempt. Never committed twice, never lost.
 *
 * The stream stays open while the agent runs, idle or not: a studio chunk
 * (a Blender frame, a model's steps) lasts longer than any idle close worth
 * having, and a stream closed between chunks made every chunk pay an open
 * (with its ready round trip) and a close. The agent closes it at its stop
 * (CoordinatorClient.close); the coordinator ends it at its own stop
 * (coordinator/grpc/upload-streams.ts), and an older coordinator's GOAWAY
 * closes it once its uploads are answered (watchChannel). An idle stream
 * through a dead link breaks when the channel's keepalive gets no answer
 * (gateway-client.ts, AGENT_KEEPALIVE_OPTIONS: a ping 2 s after the last
 * answer, 4 s to answer), and the next upload opens a new one; after a
 * silent link the agent drops it sooner, dialling new connections (reset,
 * CoordinatorClient.redial).
 */
import { once, type EventEmitter } from "node:events";
import { Metadata, connectivityState, status as grpcStatus, type ClientDuplexStream, type ServiceError } from "@grpc/grpc-js";
import type { ResultSinkClient, UploadAnswer, UploadMessage, UploadResult } from "../../proto/gen/nightshift/v1/sink.ts";
import { UPLOAD_STREAM_READY_KEY, UPLOAD_WHOLE_KEY } from "../../shared/upload-codec.ts";
import { redialled, serviceError } from "./service-error.ts";

interface Pending {
  resolve: (r: UploadResult) => void;
  reject: (e: ServiceError) => void;
}

/** One upload's end of the stream: send its messages, wait for its answer. */
export interface StreamUpload {
  /** Sends one of this upload's messages, waiting while the stream is full; rejects once the upload is answered or the stream broke. */
  write(msg: UploadMessage): Promise<void>;
  /** The upload's answer: its commit's result, or a rejection with the refusal or the stream's error. */
  readonly result: Promise<UploadResult>;
  /** Every message is sent (a unary call half-closes; on the stream, the accounting ends an upload). */
  end(): void;
  /** Gives the upload up: the sink drops what it staged. */
  cancel(): void;
  /** The coordinator takes a small upload as one `whole` message (its ready metadata said so: UPLOAD_WHOLE_KEY). */
  readonly takesWhole?: boolean;
}

class OpenStream {
  /** Uploads that sent a message, by their id on the stream. */
  readonly pending = new Map<number, Pending>();
  /** Uploads begun that have sent nothing yet (a held one: whole-upload.ts), so have no id yet. */
  private readonly unsent = new Set<Pending>();
  broken: ServiceError | undefined;

  /** No new upload goes on it: closed as soon as nothing is in flight. */
  private closing = false;

  constructor(
    readonly call: ClientDuplexStream<UploadMessage, UploadAnswer>,
    private readonly channel: ReturnType<ResultSinkClient["getChannel"]>,
    private readonly onGone: (s: OpenStream) => void,
    /** The coordinator's ready metadata offered whole uploads (UPLOAD_WHOLE_KEY). */
    readonly takesWhole: boolean,
  ) {
    call.on("data", (a: UploadAnswer) => this.answered(a));
    call.on("error", (err: ServiceError) => this.fail(err));
    call.on("end", () => this.fail(Object.assign(new Error("upload stream ended by the coordinator"), { code: grpcStatus.UNAVAILABLE, details: "upload stream ended", metadata: new Metadata() }) as ServiceError));
    this.watchChannel();
  }

  /**
   * A coordinator shutting down sends GOAWAY and then waits for open calls: the channel leaves READY, and
   * the stream is closed once its uploads are answered (at once when idle), so the shutdown is not held up.
   */
  private watchChannel(): void {
    const state = this.channel.getConnectivityState(false);
    if (state !== connectivityState.READY) {
      this.closing = true;
      this.onGone(this);
      if (this.inFlight === 0) this.close();
      return;
    }
    this.channel.watchConnectivityState(state, Infinity, () => {
      if (!this.broken && !this.closed) this.watchChannel();
    });
  }

  private closed = false;

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onGone(this);
    this.call.end();
  }

  /** A stream that began closing is closed once nothing is in flight on it (a broken one is over already). */
  private closeIfDone(): void {
    if (this.inFlight === 0 && !this.broken && this.closing) this.close();
  }

  get usable(): boolean {
    return !this.broken && !this.closing && !this.closed;
  }

  /** Uploads begun and not answered, sent from or not. */
  get inFlight(): number {
    return this.pending.size + this.unsent.size;
  }

  add(p: Pending): void {
    this.unsent.add(p);
  }

  /** The upload's first message goes now, under `id`. */
  numbered(id: number, p: Pending): void {
    this.unsent.delete(p);
    this.pending.set(id, p);
  }

  /** An upload given up before it sent anything: the coordinator never heard of it. */
  cancelUnsent(p: Pending): void {
    if (!this.unsent.delete(p)) return;
    p.reject(cancelledOnClient());
    this.closeIfDone();
  }

  private answered(a: UploadAnswer): void {
    const p = this.pending.get(a.uploadId);
    if (!p) return;
    this.settled(a.uploadId);
    if (a.outcome?.$case === "result") return p.resolve(a.outcome.value);
    const r = a.outcome?.$case === "refusal" ? a.outcome.value : { code: grpcStatus.INTERNAL, details: "empty answer", reason: "" };
    const metadata = new Metadata();
    if (r.reason) metadata.set("refusal", r.reason);
    p.reject(Object.assign(new Error(`${r.code} ${grpcStatus[r.code] ?? ""}: ${r.details}`), { code: r.code, details: r.details, metadata }) as ServiceError);
  }

  cancel(id: number): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.settled(id);
    p.reject(cancelledOnClient());
  }

  settled(id: number): void {
    this.pending.delete(id);
    this.closeIfDone();
  }

  fail(err: ServiceError): void {
    if (this.broken) return;
    this.broken = err;
    this.onGone(this);
    for (const p of [...this.pending.values(), ...this.unsent]) p.reject(err);
    this.pending.clear();
    this.unsent.clear();
  }
}

/** What grpc-js rejects a call cancelled by its client with. */
function cancelledOnClient(): ServiceError {
  return serviceError(grpcStatus.CANCELLED, "Cancelled on client");
}

/**
 * The write() of one upload's messages (on the stream, or as an Upload call's): a full call is waited on
 * until 'drain'. Once the upload's result has settled (answered early, refused, or the call broke), every
 * later write rejects with the refusal or the error, as writes to a closed call would. A write waiting for
 * 'drain' when the result settles ends with it: rejected by a refusal or an error; resolved by a
 * commit's answer, since the message was already taken (send returned false only to say the call is full)
 * and the sink answers only after the upload's last message, so the waiting write was that message (the
 * answer can come before grpc-js's 'drain', which failed the bench's upload now and then).
 */
export function writerUntil(result: Promise<unknown>, answeredEarly: string, send: (msg: UploadMessage) => boolean, drains: EventEmitter): (msg: UploadMessage) => Promise<void> {
  let over: unknown;
  void result.then(
    () => (over = new Error(answeredEarly)),
    (err: unknown) => (over = err),
  );
  return async (msg) => {
    if (over) throw over;
    if (send(msg)) return;
    const stop = new AbortController();
    try {
      await Promise.race([once(drains, "drain", { signal: stop.signal }), result.then(() => undefined)]);
    } finally {
      stop.abort(); // the listener of whichever did not come
    }
  };
}

/** The agent's upload stream to one coordinator. */
export class UploadStream {
  private current: Promise<OpenStream | null> | undefined;
  private unimplemented = false;
  private closed = false;
  private nextId = 0;
  /** reset() calls so far. */
  private resets = 0;
  /** Streams being opened that have not had the coordinator's ready metadata yet. */
  private readonly unready = new Set<ClientDuplexStream<UploadMessage, UploadAnswer>>();
  /** Streams opened so far (each one a call and its ready round trip). */
  readonly stats = { opened: 0 };

  /** `sink`: the client of the agent's current connection (CoordinatorClient.redial moves it to a new one). */
  constructor(private readonly sink: () => ResultSinkClient) {}

  /** A new upload on the open stream (opened now if need be), or null when the coordinator has no UploadStream. */
  async begin(): Promise<StreamUpload | null> {
    if (this.closed) throw serviceError(grpcStatus.CANCELLED, "the upload stream was closed");
    if (this.unimplemented) return null;
    this.current ??= this.opening();
    const opening = this.current;
    const resets = this.resets;
    let s: OpenStream | null;
    try {
      s = await opening;
    } catch (err) {
      if (this.current === opening) this.current = undefined;
      // Opening on connections a redial let go meanwhile (their close failed it): begun again on the new ones.
      if (this.resets !== resets && !this.closed) return this.begin();
      throw err;
    }
    if (!s) return null;
    if (!s.usable) {
      // Broke or began closing between its opening and now: a new one.
      if (this.current === opening) this.current = undefined;
      return this.begin();
    }
    return this.upload(s);
  }

  /**
   * Opens the stream now if none is open or opening, so that the next upload finds it ready instead of
   * waiting for the call and its ready round trip (the agent opens it when it starts: a fresh farm's first
   * chunks otherwise all waited for their agent's open at once). A failure is left to the next begin().
   */
  warm(): void {
    if (this.closed || this.unimplemented || this.current) return;
    const opening = this.opening();
    this.current = opening;
    opening.catch(() => {
      if (this.current === opening) this.current = undefined;
    });
  }

  /** A stream being opened, which, once gone, is forgotten only while it is still the current one (reset may have put another in its place). */
  private opening(): Promise<OpenStream | null> {
    const p: Promise<OpenStream | null> = this.open(() => {
      if (this.current === p) this.current = undefined;
    });
    return p;
  }

  private async open(forget: () => void): Promise<OpenStream | null> {
    const sink = this.sink();
    const call = sink.uploadStream();
    this.stats.opened++;
    let stream: OpenStream | undefined;
    const gone = (s: OpenStream): void => {
      if (stream === s) forget();
    };
    let takesWhole = false;
    const ready = new Promise<void>((resolve, reject) => {
      const onMetadata = (md: Metadata): void => {
        if (md.get(UPLOAD_STREAM_READY_KEY).length === 0) return;
        takesWhole = md.get(UPLOAD_WHOLE_KEY).length > 0;
        resolve();
      };
      call.on("metadata", onMetadata);
      call.once("error", reject);
      call.once("end", () => reject(Object.assign(new Error("upload stream ended before it was ready"), { code: grpcStatus.UNAVAILABLE })));
    });
    // Until it is ready, a reset cancels it: opening on a connection that carries nothing, it would wait for its keepalive.
    this.unready.add(call);
    try {
      await ready;
    } catch (err) {
      call.on("error", () => undefined);
      if ((err as ServiceError).code === grpcStatus.UNIMPLEMENTED) {
        this.unimplemented = true;
        return null;
      }
      throw err;
    } finally {
      this.unready.delete(call);
    }
    stream = new OpenStream(call, sink.getChannel(), gone, takesWhole);
    return stream;
  }

  /**
   * An upload on `s`. Its id is taken at its first message, not at its begin: the coordinator drops a
   * message whose id is not above every id it has seen start (upload-stream-handler.ts), and a held upload
   * (whole-upload.ts) sends nothing until its end, while uploads begun after it may already have sent.
   */
  private upload(s: OpenStream): StreamUpload {
    let pending!: Pending;
    const result = new Promise<UploadResult>((resolve, reject) => s.add((pending = { resolve, reject })));
    let uploadId = 0;
    const idFor = (): number => {
      if (uploadId === 0) s.numbered((uploadId = ++this.nextId), pending);
      return uploadId;
    };
    return {
      result,
      takesWhole: s.takesWhole,
      write: writerUntil(result, "upload answered before all of it was sent", (msg) => s.call.write({ ...msg, uploadId: idFor() }), s.call),
      end: () => undefined,
      cancel: () => {
        if (uploadId === 0) return s.cancelUnsent(pending);
        if (!s.pending.has(uploadId) || s.broken) return; // answered (or refused, or cancelled) already
        // As grpc-js's cancel of an Upload call: the upload fails here at once with CANCELLED (a commit already
        // under way may still complete, unanswered), and the sink is told to drop what it staged.
        s.cancel(uploadId);
        if (!s.broken) s.call.write({ body: { $case: "cancel", value: true }, uploadId });
      },
    };
  }

  /**
   * Drops the open (or opening) stream: the agent dialled the coordinator again (CoordinatorClient.redial).
   * Uploads not answered on it reject with UNAVAILABLE, as on a connection that broke (an upload with its
   * frames kept is sent again: result-uploader.ts); the next begin() opens a stream on the new connection. A
   * stream still waiting for the coordinator's ready metadata is cancelled, and a begin() waiting for it
   * begins again on the new connection.
   */
  reset(): void {
    this.resets++;
    for (const call of this.unready) call.cancel();
    this.unready.clear();
    const c = this.current;
    this.current = undefined;
    void c?.then(
      (s) => {
        s?.fail(redialled());
        s?.call.cancel();
      },
      () => undefined,
    );
  }

  /** Ends the open stream (the agent is stopping), and opens no other; uploads still in flight reject with its error. Safe to call twice. */
  close(): void {
    this.closed = true;
    const c = this.current;
    this.current = undefined;
    void c?.then((s) => s?.call.cancel(), () => undefined);
  }
}
