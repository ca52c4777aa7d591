import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { basename, join, normalize, relative, resolve, sep } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { WebSocketServer, type WebSocket } from "ws";
import { decodePng, encodePng } from "../../../shared/media/png-codec.ts";
import type { RgbFrame } from "../../../shared/media/rgb-frame.ts";
import { pngWithText } from "./png-text.ts";
import { pythonJsonDumps } from "./python-json.ts";
import { nodeInfo, STANDIN_CUSTOM_NODES, STANDIN_NODES, type NodeClass, type RunContext } from "./standin-nodes.ts";
import { validatePrompt, type ApiPrompt } from "./standin-validate.ts";

/**
 * A stand-in ComfyUI server for tests (ComfyUI itself, Python and PyTorch,
 * cannot run here). It follows the protocol of ComfyUI's server.py,
 * execution.py and main.py (0.3.4x line: client-chosen prompt_id, targeted
 * POST /interrupt): the routes and their status codes, the JSON shapes of
 * /prompt, /queue, /history, /system_stats and /object_info, the websocket
 * messages in ComfyUI's order (status, execution_start, execution_cached,
 * executing, progress, executed, execution_success | execution_error |
 * execution_interrupted, then history, then executing {node: null}) and binary
 * preview frames (uint32 event 1, uint32 image type, image bytes). Its
 * SaveImage writes real PNGs with the `prompt` and extra_pnginfo text chunks.
 * Fault controls make it restart, go down, stall its socket, lose a prompt,
 * fail a node at run time or hold history back. Never shipped.
 */

export interface StandinOptions {
  /** Time per sampler step (default 2 ms). */
  stepMs?: number;
  /** Between execution_success and the history entry (ComfyUI's own gap, made wider; default 0). */
  historyLagMs?: number;
  /** Install the custom node pack (StandinFilmGrain). */
  customNodes?: boolean;
  /** Send binary preview frames with each step (ComfyUI does with --preview-method). Default true. */
  previews?: boolean;
  /** system_stats' comfyui_version. */
  version?: string;
  /** system_stats' devices (ComfyUI's shape: name, type, index, vram_total, vram_free, torch_vram_*). Default: one 24 GiB CUDA card. */
  devices?: ReadonlyArray<{ name: string; type: string; vram_total: number; vram_free: number }>;
}

const DEFAULT_DEVICES = [{ name: "cuda:0 Standin RTX : cudaMallocAsync", type: "cuda", vram_total: 25757220864, vram_free: 24696061952 }];

export const STANDIN_VERSION = "0.3.47";

type QueueItem = [number: number, promptId: string, prompt: ApiPrompt, extraData: Record<string, unknown>, outputs: string[]];

class Interrupted extends Error {}

/** Everything a ComfyUI process holds in memory and loses when it restarts. */
class Life {
  readonly abort = new AbortController();
  readonly queue: QueueItem[] = [];
  running: QueueItem | null = null;
  readonly history = new Map<string, Record<string, unknown>>();
  readonly sockets = new Map<string, WebSocket>();
  number = 0;
  interrupt = false;
  clientId: string | null = null;
  lastNodeId: string | null = null;
  readonly loaderCache = new Set<string>();
  wake: (() => void) | null = null;
}

export interface RecordedRequest {
  method: string;
  path: string;
  body: unknown;
}

export class ComfyStandin {
  private server: Server | null = null;
  private readonly wss = new WebSocketServer({ noServer: true });
  private life = new Life();
  private readonly classes: Map<string, NodeClass>;
  private stalled = false;
  private loseNext = 0;
  private failNext: string | null = null;
  private historyGate: { promise: Promise<void>; resolve: () => void } | null = null;
  /** Every HTTP request, in order (method, path without query, parsed JSON body). */
  readonly requests: RecordedRequest[] = [];
  /** Prompt ids this process accepted (across restarts). */
  readonly accepted: string[] = [];
  /** performance.now() when each prompt's history entry was written (across restarts), for benchmarks. */
  readonly finishedAt: number[] = [];
  /** Binary frames and JSON messages sent, for protocol tests. */
  readonly sent: Array<{ sid: string | null; type: string | number }> = [];

  private constructor(
    readonly dir: string,
    private port: number,
    private readonly opts: Required<StandinOptions>,
  ) {
    this.classes = new Map([...STANDIN_NODES, ...(opts.customNodes ? STANDIN_CUSTOM_NODES : [])].map((n) => [n.name, n]));
    mkdirSync(this.inputDir, { recursive: true });
    mkdirSync(this.outputDir, { recursive: true });
  }

  static async start(options: StandinOptions = {}): Promise<ComfyStandin> {
    const dir = await mkdtemp(join(tmpdir(), "comfy-standin-"));
    const s = new ComfyStandin(dir, 0, { stepMs: 2, historyLagMs: 0, customNodes: false, previews: true, version: STANDIN_VERSION, devices: DEFAULT_DEVICES, ...options });
    await s.listen();
    return s;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }
  get inputDir(): string {
    return join(this.dir, "input");
  }
  get outputDir(): string {
    return join(this.dir, "output");
  }
  get up(): boolean {
    return this.server !== null;
  }

  // ---- fault controls ----

  /** The process dies and comes back on the same port: queue, history and sockets are lost; files on disk stay. */
  async restart(): Promise<void> {
    await this.stop();
    await this.resume();
  }

  /** The process dies and stays down until resume(). */
  async stop(): Promise<void> {
    const server = this.server;
    if (server === null) return;
    this.server = null;
    this.life.abort.abort();
    this.life.wake?.();
    for (const ws of this.life.sockets.values()) ws.terminate();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }

  /** A fresh process on the same port. */
  async resume(): Promise<void> {
    if (this.server !== null) return;
    this.life = new Life();
    await this.listen();
  }

  /** While stalled the websocket stays open and says nothing (messages are dropped). */
  stallSocket(stalled: boolean): void {
    this.stalled = stalled;
  }

  /** The next `count` prompts are answered 200 and then silently dropped: never run, never in /queue or /history. */
  loseNextPrompt(count = 1): void {
    this.loseNext += count;
  }

  /**
   * While held, finished prompts wait before their history entry is written
   * (still in queue_running, /history/{id} answers {}): ComfyUI's own gap
   * between execution_success and task_done, held open for as long as a test needs.
   */
  holdHistory(held: boolean): void {
    if (held) {
      if (this.historyGate === null) {
        let resolve = () => {};
        const promise = new Promise<void>((r) => (resolve = r));
        this.historyGate = { promise, resolve };
      }
      return;
    }
    this.historyGate?.resolve();
    this.historyGate = null;
  }

  /** The next prompt's KSampler raises this message at run time (execution_error). */
  failNextExecution(message: string): void {
    this.failNext = message;
  }

  /** The prompt running now, or null. */
  runningPromptId(): string | null {
    return this.life.running?.[1] ?? null;
  }

  /** Prompts finished (in history) since the last restart. */
  historyIds(): string[] {
    return [...this.life.history.keys()];
  }

  async close(): Promise<void> {
    await this.stop();
    this.wss.close();
    await rm(this.dir, { recursive: true, force: true });
  }

  // ---- server ----

  private async listen(): Promise<void> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
        res.end(`500 Internal Server Error\n\n${(err as Error).message}`);
      });
    });
    server.on("upgrade", (req, socket, head) => {
      const url = new URL(req.url ?? "/", "http://x");
      if (url.pathname !== "/ws" && url.pathname !== "/api/ws") return socket.destroy();
      this.wss.handleUpgrade(req, socket, head, (ws) => this.onSocket(ws, url.searchParams.get("clientId") ?? ""));
    });
    await new Promise<void>((resolveListen, reject) => {
      server.once("error", reject);
      server.listen(this.port, "127.0.0.1", () => resolveListen());
    });
    const addr = server.address();
    if (typeof addr === "object" && addr !== null) this.port = addr.port;
    this.server = server;
    void this.worker(this.life);
  }

  private onSocket(ws: WebSocket, requested: string): void {
    const life = this.life;
    const sid = requested !== "" ? requested : crypto.randomUUID().replaceAll("-", "");
    life.sockets.get(sid)?.close();
    life.sockets.set(sid, ws);
    ws.on("close", () => {
      if (life.sockets.get(sid) === ws) life.sockets.delete(sid);
    });
    ws.on("error", () => {});
    this.send(life, "status", { status: this.queueInfo(life), sid }, sid);
    if (life.clientId === sid && life.lastNodeId !== null) this.send(life, "executing", { node: life.lastNodeId }, sid);
  }

  private send(life: Life, type: string, data: unknown, sid: string | null): void {
    if (this.stalled || life.abort.signal.aborted) return;
    const text = JSON.stringify({ type, data });
    this.sent.push({ sid, type });
    const targets = sid === null ? [...life.sockets.values()] : [life.sockets.get(sid)].filter((w) => w !== undefined);
    for (const ws of targets) if (ws.readyState === ws.OPEN) ws.send(text);
  }

  private sendBytes(life: Life, event: number, payload: Uint8Array, sid: string | null): void {
    if (this.stalled || life.abort.signal.aborted || sid === null) return;
    const head = Buffer.alloc(4);
    head.writeUInt32BE(event, 0);
    this.sent.push({ sid, type: event });
    const ws = life.sockets.get(sid);
    if (ws?.readyState === ws?.OPEN) ws?.send(Buffer.concat([head, payload]));
  }

  private queueInfo(life: Life): { exec_info: { queue_remaining: number } } {
    return { exec_info: { queue_remaining: life.queue.length + (life.running ? 1 : 0) } };
  }

  private queueUpdated(life: Life): void {
    this.send(life, "status", { status: this.queueInfo(life) }, null);
  }

  private inputFiles = (): string[] => readdirSync(this.inputDir, { withFileTypes: true }).filter((d) => d.isFile()).map((d) => d.name);
  private inputDirs = (): string[] => readdirSync(this.inputDir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  private inputFileExists = (name: string): boolean => {
    const plain = name.endsWith(" [input]") ? name.slice(0, -" [input]".length) : name;
    try {
      return existsSync(this.inputPath(plain));
    } catch {
      return false;
    }
  };
  private readonly listing = { inputFiles: this.inputFiles, inputDirs: this.inputDirs, inputFileExists: this.inputFileExists };
  /** An input path ("name.png", "folder/name.png") inside the input folder; anything reaching outside it is refused. */
  private inputPath(name: string): string {
    const full = resolve(this.inputDir, name);
    if (!full.startsWith(this.inputDir + sep)) throw new Error(`Invalid image path: ${name}`);
    return full;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://x");
    const path = url.pathname.startsWith("/api/") ? url.pathname.slice(4) : url.pathname;
    const method = req.method ?? "GET";
    const raw = await readBody(req);
    const life = this.life;
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json; charset=utf-8" });
      res.end(pythonJsonDumps(body));
    };
    const empty = (status: number) => {
      res.writeHead(status, { "content-type": "text/plain; charset=utf-8" });
      res.end(status === 200 ? "" : `${status}`);
    };
    let body: unknown = null;
    const parse = (): boolean => {
      try {
        body = JSON.parse(raw.toString("utf8"));
        return true;
      } catch {
        return false;
      }
    };
    const isJson = !(req.headers["content-type"] ?? "").startsWith("multipart/");
    if (method === "POST" && isJson) parse();
    this.requests.push({ method, path, body });

    const historyMatch = /^\/history\/([^/]+)$/.exec(path);
    const objectInfoMatch = /^\/object_info\/([^/]+)$/.exec(path);
    const route = `${method} ${historyMatch ? "/history/{id}" : objectInfoMatch ? "/object_info/{class}" : path}`;
    switch (route) {
      case "GET /system_stats":
        return json(200, {
          system: { os: "posix", ram_total: 34359738368, ram_free: 17179869184, comfyui_version: this.opts.version, required_frontend_version: "1.23.4", python_version: "3.12.3 (main) [GCC 13.2.0]", pytorch_version: "2.7.1+cu128", embedded_python: false, argv: ["main.py", "--listen", "127.0.0.1"] },
          devices: this.opts.devices.map((d, index) => ({ ...d, index, torch_vram_total: 0, torch_vram_free: 0 })),
        });
      case "GET /object_info":
        return json(200, Object.fromEntries([...this.classes.values()].map((n) => [n.name, nodeInfo(n, this.listing)])));
      case "GET /object_info/{class}": {
        const n = this.classes.get(decodeURIComponent(objectInfoMatch![1]!));
        return json(200, n === undefined ? {} : { [n.name]: nodeInfo(n, this.listing) });
      }
      case "GET /prompt":
        return json(200, this.queueInfo(life));
      case "POST /prompt":
        if (body === null && !parse()) return empty(500);
        return this.postPrompt(life, body as Record<string, unknown>, json);
      case "GET /queue":
        return json(200, { queue_running: life.running ? [life.running] : [], queue_pending: [...life.queue] });
      case "POST /queue": {
        const b = (body ?? {}) as { clear?: boolean; delete?: string[] };
        if (b.clear) life.queue.length = 0;
        for (const id of b.delete ?? []) {
          const i = life.queue.findIndex((q) => q[1] === id);
          if (i >= 0) life.queue.splice(i, 1);
        }
        if (b.clear || b.delete) this.queueUpdated(life);
        return empty(200);
      }
      case "GET /history": {
        const max = url.searchParams.get("max_items");
        const entries = [...life.history.entries()];
        return json(200, Object.fromEntries(max === null ? entries : entries.slice(-Number(max))));
      }
      case "GET /history/{id}": {
        const id = decodeURIComponent(historyMatch![1]!);
        const h = life.history.get(id);
        return json(200, h === undefined ? {} : { [id]: h });
      }
      case "POST /history": {
        const b = (body ?? {}) as { clear?: boolean; delete?: string[] };
        if (b.clear) life.history.clear();
        for (const id of b.delete ?? []) life.history.delete(id);
        return empty(200);
      }
      case "POST /interrupt": {
        const id = (body as { prompt_id?: unknown } | null)?.prompt_id;
        if (typeof id !== "string" || id === "" || life.running?.[1] === id) life.interrupt = true;
        return empty(200);
      }
      case "GET /view":
        return this.view(url, res);
      case "POST /upload/image":
        return this.upload(req, raw, json, empty);
      default:
        return empty(KNOWN.has(path) ? 405 : 404);
    }
  }

  private postPrompt(life: Life, body: Record<string, unknown>, json: (status: number, b: unknown) => void): void {
    let number: number;
    if ("number" in body) number = Number(body.number);
    else {
      number = body.front ? -life.number : life.number;
      life.number += 1;
    }
    if (!("prompt" in body)) return json(400, { error: { type: "no_prompt", message: "No prompt provided", details: "No prompt provided", extra_info: {} }, node_errors: {} });
    const prompt = body.prompt as ApiPrompt;
    const promptId = String(body.prompt_id ?? crypto.randomUUID());
    const valid = validatePrompt(prompt, this.classes, this.listing);
    const extra = { ...((body.extra_data as Record<string, unknown> | undefined) ?? {}) };
    if ("client_id" in body) extra.client_id = body.client_id;
    if (!valid.ok) return json(400, { error: valid.error, node_errors: valid.nodeErrors });
    this.accepted.push(promptId);
    if (this.loseNext > 0) this.loseNext -= 1;
    else {
      life.queue.push([number, promptId, prompt, extra, valid.outputs]);
      life.queue.sort((a, b) => a[0] - b[0]);
      this.queueUpdated(life);
      life.wake?.();
    }
    json(200, { prompt_id: promptId, number, node_errors: valid.nodeErrors });
  }

  private async view(url: URL, res: ServerResponse): Promise<void> {
    const q = url.searchParams;
    let filename = q.get("filename");
    if (filename === null) return void res.writeHead(404).end();
    let type = q.get("type") ?? "output";
    const annotated = / \[(input|output|temp)\]$/.exec(filename);
    if (annotated) {
      type = annotated[1]!;
      filename = filename.slice(0, -annotated[0].length);
    }
    if (filename === "" ) return void res.writeHead(400).end();
    if (filename.startsWith("/") || filename.includes("..")) return void res.writeHead(400).end();
    const root = type === "input" ? this.inputDir : type === "output" ? this.outputDir : type === "temp" ? join(this.dir, "temp") : null;
    if (root === null) return void res.writeHead(400).end();
    let dir = root;
    const sub = q.get("subfolder");
    if (sub !== null) {
      dir = resolve(root, sub);
      if (dir !== root && !dir.startsWith(root + sep)) return void res.writeHead(403).end();
    }
    const file = join(dir, basename(filename));
    if (!existsSync(file)) return void res.writeHead(404).end();
    const data = readFileSync(file);
    res.writeHead(200, { "content-type": "image/png", "content-disposition": `filename="${basename(filename)}"`, "content-length": data.length });
    res.end(data);
  }

  private async upload(req: IncomingMessage, raw: Buffer, json: (s: number, b: unknown) => void, empty: (s: number) => void): Promise<void> {
    let form: FormData;
    try {
      form = await new Request("http://x/", { method: "POST", headers: { "content-type": req.headers["content-type"] ?? "" }, body: raw }).formData();
    } catch {
      return empty(400);
    }
    const image = form.get("image");
    if (!(image instanceof Blob) || !("name" in image) || typeof image.name !== "string" || image.name === "") return empty(400);
    const type = String(form.get("type") ?? "input");
    const root = type === "output" ? this.outputDir : type === "temp" ? join(this.dir, "temp") : this.inputDir;
    const subfolder = String(form.get("subfolder") ?? "");
    const folder = join(root, normalize(subfolder));
    let name = image.name;
    let path = resolve(folder, name);
    if (relative(root, path).startsWith("..")) return empty(400);
    mkdirSync(folder, { recursive: true });
    const bytes = Buffer.from(await image.arrayBuffer());
    const overwrite = String(form.get("overwrite") ?? "");
    let duplicate = false;
    if (overwrite !== "true" && overwrite !== "1") {
      const dot = name.lastIndexOf(".");
      const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ""];
      for (let i = 1; existsSync(path); i++) {
        if (sha(readFileSync(path)) === sha(bytes)) {
          duplicate = true;
          break;
        }
        name = `${stem} (${i})${ext}`;
        path = join(folder, name);
      }
    }
    if (!duplicate) writeFileSync(path, bytes);
    json(200, { name, subfolder, type: type === "output" || type === "temp" ? type : "input" });
  }

  // ---- execution (main.py prompt_worker + execution.py PromptExecutor) ----

  private async worker(life: Life): Promise<void> {
    const { signal } = life.abort;
    while (!signal.aborted) {
      const item = life.queue.shift();
      if (item === undefined) {
        await new Promise<void>((r) => (life.wake = r));
        life.wake = null;
        continue;
      }
      life.running = item;
      this.queueUpdated(life);
      try {
        await this.execute(life, item);
      } catch (err) {
        if (signal.aborted) return; // the process died mid-prompt: nothing more is said or kept
        throw err;
      }
    }
  }

  private async execute(life: Life, item: QueueItem): Promise<void> {
    const [, promptId, prompt, extra, outputs] = item;
    const { signal } = life.abort;
    life.interrupt = false;
    const sid = typeof extra.client_id === "string" ? extra.client_id : null;
    life.clientId = sid;
    const messages: Array<[string, Record<string, unknown>]> = [];
    const addMessage = (event: string, data: Record<string, unknown>, broadcast: boolean) => {
      const d = { ...data, timestamp: Date.now() };
      messages.push([event, d]);
      if (sid !== null || broadcast) this.send(life, event, d, sid);
    };
    addMessage("execution_start", { prompt_id: promptId }, false);
    const order = executionOrder(prompt, outputs);
    const signature = (id: string) => `${prompt[id]!.class_type}:${JSON.stringify(prompt[id]!.inputs)}`;
    const cached = order.filter((id) => this.classes.get(prompt[id]!.class_type!)!.category === "loaders" && life.loaderCache.has(signature(id)));
    addMessage("execution_cached", { nodes: cached, prompt_id: promptId }, false);

    const results = new Map<string, unknown[]>();
    const ui: Record<string, unknown> = {};
    const meta: Record<string, unknown> = {};
    const executed: string[] = [];
    let failure: { nodeId: string; error: unknown } | null = null;
    for (const id of order) {
      const node = prompt[id]!;
      const cls = this.classes.get(node.class_type!)!;
      const inputs: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(node.inputs ?? {})) inputs[k] = Array.isArray(v) && v.length === 2 ? results.get(String(v[0]))?.[Number(v[1])] : v;
      if (!cached.includes(id)) {
        life.lastNodeId = id;
        this.send(life, "executing", { node: id, display_node: id, prompt_id: promptId }, sid);
      }
      try {
        const out = await cls.run(inputs, this.runContext(life, promptId, id, sid, prompt, extra));
        signal.throwIfAborted();
        results.set(id, out.outputs);
        if (cls.category === "loaders") life.loaderCache.add(signature(id));
        if (out.ui !== undefined) {
          ui[id] = out.ui;
          meta[id] = { node_id: id, display_node: id, parent_node: null, real_node_id: id };
          this.send(life, "executed", { node: id, display_node: id, output: out.ui, prompt_id: promptId }, sid);
        }
        executed.push(id);
      } catch (error) {
        if (signal.aborted) throw error;
        failure = { nodeId: id, error };
        break;
      }
    }
    if (failure === null) addMessage("execution_success", { prompt_id: promptId }, false);
    else {
      const base = { prompt_id: promptId, node_id: failure.nodeId, node_type: prompt[failure.nodeId]!.class_type, executed };
      if (failure.error instanceof Interrupted) addMessage("execution_interrupted", base, true);
      else {
        const message = (failure.error as Error).message;
        addMessage("execution_error", { ...base, exception_message: `${message}\n`, exception_type: "RuntimeError", traceback: [`  File "standin/nodes.py", line 1, in ${prompt[failure.nodeId]!.class_type}\n`], current_inputs: {}, current_outputs: [] }, false);
      }
    }
    if (this.opts.historyLagMs > 0) await sleep(this.opts.historyLagMs, undefined, { signal });
    const gate = this.historyGate?.promise;
    if (gate !== undefined) await Promise.race([gate, new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason), { once: true }))]);
    signal.throwIfAborted();
    life.history.set(promptId, {
      prompt: item,
      outputs: ui,
      status: { status_str: failure === null ? "success" : "error", completed: failure === null, messages },
      meta,
    });
    this.finishedAt.push(performance.now());
    life.running = null;
    life.lastNodeId = null;
    this.queueUpdated(life);
    if (sid !== null) this.send(life, "executing", { node: null, prompt_id: promptId }, sid);
  }

  private runContext(life: Life, promptId: string, nodeId: string, sid: string | null, prompt: ApiPrompt, extra: Record<string, unknown>): RunContext {
    const { signal } = life.abort;
    return {
      nodeId,
      checkInterrupt: () => {
        if (life.interrupt) throw new Interrupted("Processing interrupted");
      },
      step: async (value, max) => {
        if (this.opts.stepMs > 0) await sleep(this.opts.stepMs, undefined, { signal });
        signal.throwIfAborted();
        this.send(life, "progress", { value, max, prompt_id: promptId, node: nodeId }, sid);
        if (this.opts.previews) {
          const kind = Buffer.alloc(4);
          kind.writeUInt32BE(2, 0); // PNG
          this.sendBytes(life, 1, Buffer.concat([kind, encodePng({ width: 8, height: 8, data: new Uint8Array(192).fill(value & 0xff) })]), sid);
        }
      },
      saveImages: async (images, prefix) => this.saveImages(images, prefix, prompt, extra),
      loadInput: async (name) => decodePng(readFileSync(this.inputPath(name)), name),
      inputFiles: this.inputFiles,
      inputDirs: this.inputDirs,
      inputFileExists: this.inputFileExists,
      inputFolderFiles: (dir) => readdirSync(this.inputPath(dir), { withFileTypes: true }).filter((d) => d.isFile() && /\.(png|jpe?g|webp)$/i.test(d.name)).map((d) => d.name).sort(),
      injectedError: () => {
        const m = this.failNext;
        this.failNext = null;
        return m;
      },
    };
  }

  /** SaveImage.save_images: folder_paths.get_save_image_path counter, `prefix_00001_.png`, prompt + extra_pnginfo text chunks. */
  private saveImages(images: RgbFrame[], prefix: string, prompt: ApiPrompt, extra: Record<string, unknown>): Array<{ filename: string; subfolder: string; type: string }> {
    const full = resolve(this.outputDir, prefix);
    if (full !== this.outputDir && !full.startsWith(this.outputDir + sep)) throw new Error(`Saving image outside the output folder is not allowed.\n full_output_folder: ${full}\n         output_dir: ${this.outputDir}`);
    const subfolder = relative(this.outputDir, resolve(full, ".."));
    const name = basename(full);
    const folder = join(this.outputDir, subfolder);
    mkdirSync(folder, { recursive: true });
    const taken = readdirSync(folder)
      .map((f) => new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}_(\\d{5})_\\.png$`).exec(f)?.[1])
      .filter((d): d is string => d !== undefined)
      .map(Number);
    let counter = (taken.length > 0 ? Math.max(...taken) : 0) + 1;
    const texts: Array<[string, string]> = [["prompt", pythonJsonDumps(prompt)]];
    const pnginfo = extra.extra_pnginfo;
    if (pnginfo !== null && typeof pnginfo === "object") for (const [k, v] of Object.entries(pnginfo)) texts.push([k, pythonJsonDumps(v)]);
    return images.map((img) => {
      const filename = `${name}_${String(counter++).padStart(5, "0")}_.png`;
      writeFileSync(join(folder, filename), pngWithText(img, texts));
      return { filename, subfolder, type: "output" };
    });
  }
}

const KNOWN = new Set(["/system_stats", "/object_info", "/prompt", "/queue", "/history", "/interrupt", "/view", "/upload/image", "/ws"]);

/** Nodes reachable from the outputs, each after its inputs (ExecutionList's order for a tree-shaped graph). */
function executionOrder(prompt: ApiPrompt, outputs: string[]): string[] {
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (id: string) => {
    if (seen.has(id)) return;
    seen.add(id);
    for (const v of Object.values(prompt[id]?.inputs ?? {})) if (Array.isArray(v) && v.length === 2 && String(v[0]) in prompt) visit(String(v[0]));
    order.push(id);
  };
  for (const o of [...outputs].sort()) visit(o);
  return order;
}

function sha(b: Buffer): string {
  return createHash("sha256").update(b).digest("hex");
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of req) parts.push(c as Buffer);
  return Buffer.concat(parts);
}
