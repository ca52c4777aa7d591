import { setTimeout as sleep } from "node:timers/promises";
import WebSocket from "ws";
import type { z } from "zod";
import type { Logger } from "../../../shared/log.ts";
import { ComfyRejectedError, ComfyUnavailableError } from "./comfy-errors.ts";
import {
  HistoryEntrySchema,
  ObjectInfoSchema,
  parseBinaryFrame,
  PromptAcceptedSchema,
  PromptRejectedSchema,
  QueueSchema,
  rejectionMessage,
  SystemStatsSchema,
  UploadAnswerSchema,
  WsMessageSchema,
  type BinaryFrame,
  type HistoryEntry,
  type OutputFile,
  type SystemStats,
  type WsMessage,
} from "./comfy-messages.ts";

/**
 * The agent's client for one ComfyUI server's HTTP and WebSocket API (the
 * transport edge of the comfyui executor): POST /prompt with our client_id
 * and a prompt_id we choose, one long-lived /ws?clientId= socket that
 * reconnects by itself (bounded backoff) while executors hold it, GET /history/{id}, /queue, /view,
 * /system_stats, /object_info, POST /upload/image, /interrupt and /queue
 * delete. Node 20's global WebSocket is behind --experimental-websocket, so
 * the socket is the `ws` library's. Every request has a timeout; every
 * network failure becomes ComfyUnavailableError.
 */

export interface ComfyClientOptions {
  /** Base URL, e.g. http://127.0.0.1:8188 */
  url: string;
  clientId?: string;
  log?: Logger;
  /** Per HTTP request (default 10 s; /view and uploads get 6 times as long). */
  requestTimeoutMs?: number;
}

export type SocketListener = (msg: WsMessage) => void;

export class ComfyClient {
  readonly url: string;
  readonly clientId: string;
  private readonly timeoutMs: number;
  private ws: WebSocket | null = null;
  private closed = false;
  private holders = 0;
  private loop: Promise<void> | null = null;
  private readonly listeners = new Set<SocketListener>();
  private readonly binaryListeners = new Set<(f: BinaryFrame) => void>();
  /** Times the socket (re)opened; a watcher that sees it change re-checks its prompt at once. */
  connects = 0;

  constructor(private readonly opts: ComfyClientOptions) {
    this.url = opts.url.replace(/\/+$/, "");
    this.clientId = opts.clientId ?? crypto.randomUUID().replaceAll("-", "");
    this.timeoutMs = opts.requestTimeoutMs ?? 10_000;
  }

  // ---- websocket ----

  /**
   * Holds the long-lived socket open: it connects, and reconnects with a
   * bounded backoff, while at least one holder (an executor between load and
   * close) has it. Failures are logged, never thrown.
   */
  acquireSocket(): void {
    this.holders += 1;
    this.startLoop();
  }

  /** Lets go of the socket; the last holder closes it. */
  releaseSocket(): void {
    if (this.holders > 0) this.holders -= 1;
    if (this.holders === 0) this.ws?.terminate();
  }

  /** Waits (bounded) for the socket to be open, so that the first prompt's messages are not sent to nobody; false when it is not. */
  async socketReady(timeoutMs = 3_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.socketOpen && this.holders > 0 && !this.closed && Date.now() < deadline) await sleep(10);
    return this.socketOpen;
  }

  private startLoop(): void {
    if (this.loop !== null || this.closed || this.holders === 0) return;
    this.loop = this.socketLoop().finally(() => {
      this.loop = null;
      this.startLoop(); // a holder that came while the loop was ending
    });
  }

  get socketOpen(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  onMessage(listener: SocketListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onBinary(listener: (f: BinaryFrame) => void): () => void {
    this.binaryListeners.add(listener);
    return () => this.binaryListeners.delete(listener);
  }

  private async socketLoop(): Promise<void> {
    let backoff = 100;
    while (!this.closed && this.holders > 0) {
      const opened = await this.connectOnce();
      if (this.closed || this.holders === 0) return;
      backoff = opened ? 100 : Math.min(backoff * 2, 5_000);
      await sleep(backoff);
    }
  }

  /** One connection, resolved when it closes; true when it had opened. */
  private connectOnce(): Promise<boolean> {
    return new Promise((resolve) => {
      const wsUrl = `${this.url.replace(/^http/, "ws")}/ws?clientId=${encodeURIComponent(this.clientId)}`;
      const ws = new WebSocket(wsUrl, { handshakeTimeout: this.timeoutMs, maxPayload: 64 * 1024 * 1024 });
      this.ws = ws;
      let opened = false;
      ws.on("open", () => {
        opened = true;
        this.connects += 1;
        this.opts.log?.debug({ url: this.url }, "comfyui socket open");
      });
      ws.on("message", (data, isBinary) => {
        const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
        if (isBinary) {
          const frame = parseBinaryFrame(buf);
          if (frame !== null) for (const l of this.binaryListeners) l(frame);
          return;
        }
        let parsed: WsMessage;
        try {
          parsed = WsMessageSchema.parse(JSON.parse(buf.toString("utf8")));
        } catch {
          this.opts.log?.warn({ url: this.url }, "comfyui socket sent a message that is not {type, data}; ignored");
          return;
        }
        for (const l of this.listeners) l(parsed);
      });
      ws.on("error", (err) => this.opts.log?.debug({ url: this.url, err: err.message }, "comfyui socket error"));
      ws.on("close", () => {
        if (this.ws === ws) this.ws = null;
        resolve(opened);
      });
    });
  }

  /** Ends the socket for good (the agent stops). */
  close(): void {
    this.closed = true;
    this.ws?.terminate();
    this.ws = null;
  }

  // ---- HTTP ----

  private async request(method: string, path: string, init: { body?: RequestInit["body"]; json?: unknown; signal?: AbortSignal; slow?: boolean } = {}): Promise<Response> {
    const timeout = AbortSignal.timeout(init.slow ? this.timeoutMs * 6 : this.timeoutMs);
    const signal = init.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
    const headers: Record<string, string> = {};
    let body = init.body;
    if (init.json !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(init.json);
    }
    try {
      const res = await fetch(`${this.url}${path}`, { method, headers, body, signal });
      if (res.status >= 500) throw new ComfyUnavailableError(this.url, `${method} ${path} answered ${res.status}`);
      return res;
    } catch (err) {
      if (init.signal?.aborted) throw init.signal.reason;
      if (err instanceof ComfyUnavailableError) throw err;
      const cause = (err as { cause?: { code?: string } }).cause;
      throw new ComfyUnavailableError(this.url, `${method} ${path}: ${cause?.code ?? (err as Error).message}`, { cause: err });
    }
  }

  private async json<S extends z.ZodType>(schema: S, method: string, path: string, init: Parameters<ComfyClient["request"]>[2] = {}): Promise<z.infer<S>> {
    const res = await this.request(method, path, init);
    if (!res.ok) throw new ComfyUnavailableError(this.url, `${method} ${path} answered ${res.status}`);
    const parsed = schema.safeParse(await res.json().catch(() => undefined));
    if (!parsed.success) throw new ComfyUnavailableError(this.url, `${method} ${path} answered an unexpected body`);
    return parsed.data;
  }

  systemStats(signal?: AbortSignal): Promise<SystemStats> {
    return this.json(SystemStatsSchema, "GET", "/system_stats", { signal });
  }

  /** Node class names ComfyUI has (built-in and custom). */
  async nodeClasses(signal?: AbortSignal): Promise<string[]> {
    return Object.keys(await this.json(ObjectInfoSchema, "GET", "/object_info", { signal, slow: true })).sort();
  }

  /** Queues a prompt under our client id and the prompt id we chose. 400 -> ComfyRejectedError with ComfyUI's own message. */
  async queuePrompt(prompt: unknown, promptId: string, extraData: Record<string, unknown>, signal?: AbortSignal): Promise<void> {
    const res = await this.request("POST", "/prompt", { json: { prompt, prompt_id: promptId, client_id: this.clientId, extra_data: extraData }, signal });
    const body: unknown = await res.json().catch(() => undefined);
    if (res.status === 400) {
      const rejected = PromptRejectedSchema.safeParse(body);
      throw new ComfyRejectedError(rejected.success ? rejectionMessage(rejected.data) : "ComfyUI refused the prompt (400)", body);
    }
    const accepted = PromptAcceptedSchema.safeParse(body);
    if (!res.ok || !accepted.success) throw new ComfyUnavailableError(this.url, `POST /prompt answered ${res.status}`);
    if (accepted.data.prompt_id !== promptId) throw new ComfyUnavailableError(this.url, `POST /prompt queued ${accepted.data.prompt_id}, not the prompt_id ${promptId} we chose (ComfyUI older than 0.3.4x?)`);
  }

  /** The finished prompt's entry, or null while it is queued, running, or unknown (ComfyUI answers {}). */
  async history(promptId: string, signal?: AbortSignal): Promise<HistoryEntry | null> {
    const body = await this.json(ObjectInfoSchema, "GET", `/history/${encodeURIComponent(promptId)}`, { signal });
    const entry = body[promptId];
    if (entry === undefined) return null;
    const parsed = HistoryEntrySchema.safeParse(entry);
    if (!parsed.success) throw new ComfyUnavailableError(this.url, `GET /history/${promptId} answered an unexpected entry`);
    return parsed.data;
  }

  /** Prompt ids running and pending. */
  async queue(signal?: AbortSignal): Promise<{ running: string[]; pending: string[] }> {
    const q = await this.json(QueueSchema, "GET", "/queue", { signal });
    const ids = (items: unknown[][]) => items.map((i) => String(i[1]));
    return { running: ids(q.queue_running), pending: ids(q.queue_pending) };
  }

  async view(file: OutputFile, signal?: AbortSignal): Promise<Uint8Array> {
    const q = new URLSearchParams({ filename: file.filename, subfolder: file.subfolder, type: file.type });
    const res = await this.request("GET", `/view?${q}`, { signal, slow: true });
    if (!res.ok) throw new ComfyUnavailableError(this.url, `GET /view ${file.subfolder}/${file.filename} answered ${res.status}`);
    return new Uint8Array(await res.arrayBuffer());
  }

  /** Uploads an input image (overwriting a file of the same name) into ComfyUI's input folder or a `subfolder` of it; answers the name LoadImage takes ("sub/name.png"). */
  async uploadImage(name: string, bytes: Uint8Array, signal?: AbortSignal, subfolder = ""): Promise<string> {
    const form = new FormData();
    form.set("image", new Blob([bytes], { type: "image/png" }), name);
    form.set("overwrite", "true");
    form.set("type", "input");
    if (subfolder !== "") form.set("subfolder", subfolder);
    const a = await this.json(UploadAnswerSchema, "POST", "/upload/image", { body: form, signal, slow: true });
    return a.subfolder === "" ? a.name : `${a.subfolder}/${a.name}`;
  }

  /** Stops the prompt if it is the one running (ComfyUI checks the id); drops it if it is still pending. */
  async cancel(promptId: string): Promise<void> {
    await this.request("POST", "/interrupt", { json: { prompt_id: promptId } });
    await this.request("POST", "/queue", { json: { delete: [promptId] } });
  }
}
