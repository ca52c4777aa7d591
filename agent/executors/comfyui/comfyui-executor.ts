import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { extname } from "node:path";
import type { AssetCache } from "../../assets/asset-cache.ts";
import type { Logger } from "../../../shared/log.ts";
import { encodePng } from "../../../shared/media/png-codec.ts";
import type { ComfyBinding, ComfyImage, ComfyuiWorkStep } from "../../../shared/steps/work-step.ts";
import { StepFailedError } from "../executor-registry.ts";
import type { EncodedFrame, Executor, ExecutorTask } from "../executor.ts";
import type { ComfyClient } from "./comfy-client.ts";
import { ComfyExecutionError, ComfyRejectedError, ComfyUnavailableError } from "./comfy-errors.ts";
import { PromptRejectedSchema, type HistoryEntry, type OutputFile } from "./comfy-messages.ts";
import { PromptWatch } from "./prompt-watch.ts";
import type { UploadedInputs } from "./uploaded-inputs.ts";

/**
 * Runs a comfyui step on the agent's own ComfyUI. per: frame queues one
 * prompt per output frame (seed = job seed + frame index, the input frame
 * uploaded first when `image` is bound, a filename prefix of its own); per:
 * chunk queues one prompt that makes the chunk's frames (seed = job seed +
 * the chunk's first frame; a bound `image` gets all the chunk's input frames
 * as a folder, or its first frame when bound to LoadImage: see uploadInputs)
 * and takes its images in order. Frames are the
 * bytes /view serves, untouched, so ComfyUI's `prompt` text chunk stays byte
 * for byte; nightshift's provenance goes in through extra_data.extra_pnginfo,
 * which SaveImage writes as a `nightshift` text chunk beside it. Static input
 * images sent by content (a reference, a mask) are fetched through the
 * agent's asset cache and uploaded under their sha256, once per ComfyUI
 * server (uploaded-inputs.ts) until it says it lacks one.
 */

export interface ComfyuiExecutorOptions {
  client: ComfyClient;
  /** This agent's name, written into each frame's provenance. */
  agentId: string;
  log: Logger;
  /** Prompt watching (see prompt-watch.ts). */
  quietMs?: number;
  unreachableMs?: number;
  /** Told when ComfyUI stopped answering mid-chunk (the factory re-checks its health at once). */
  onUnavailable?: () => void;
  /** The agent's asset cache: where a step's input images sent by content come from. */
  assets?: Pick<AssetCache, "ensure">;
  /** What this ComfyUI already holds of them (one per ComfyUI server, shared by its executors); absent: uploaded every chunk. */
  uploaded?: UploadedInputs;
}

/** What nightshift writes into each output PNG (the `nightshift` text chunk). */
export interface ComfyProvenance {
  job: string;
  chunk: string;
  attempt: string;
  agent: string;
  seed: number;
  frames: number[];
  workflowSha256: string;
}

export class ComfyuiExecutor implements Executor {
  readonly kind = "comfyui";
  private holding = false;

  constructor(
    private readonly step: ComfyuiWorkStep,
    private readonly opts: ComfyuiExecutorOptions,
  ) {}

  /** Opens the socket and waits for it briefly: progress for the first prompt needs it (completion does not: the watcher polls). */
  async load(): Promise<void> {
    if (!this.holding) {
      this.holding = true;
      this.opts.client.acquireSocket();
    }
    if (!(await this.opts.client.socketReady())) this.opts.log.warn({ url: this.opts.client.url }, "comfyui socket not open yet; prompts are followed by polling until it is");
  }

  async *run(task: ExecutorTask): AsyncIterable<EncodedFrame> {
    const images = await this.uploadStaticImages(task.signal);
    // ComfyUI saying a static image is missing makes this chunk upload it again, once.
    const inputs: StaticInputs = { images, reuploaded: false };
    if (this.step.per === "chunk") {
      yield* this.prompt(task, task.frames, inputs);
      return;
    }
    for (const frame of task.frames) yield* this.prompt(task, [frame], inputs);
  }

  async close(): Promise<void> {
    if (!this.holding) return;
    this.holding = false;
    this.opts.client.releaseSocket();
  }

  /**
   * Uploads the prompt's input frames and answers what the `image` binding gets. A single-image loader
   * (LoadImage and its kin: one file, as img2vid models such as Stable Video Diffusion, LTX-Video and Wan
   * i2v start from) gets one file: the frame, or the chunk's first frame. Any other node bound with
   * per: chunk gets every frame of the chunk, uploaded in frame order (frame_000120.png, ...) into a
   * folder of their own under ComfyUI's input folder, and is bound to that folder's name: what directory
   * loaders such as VideoHelperSuite's "Load Images" (VHS_LoadImages, input `directory`) take, which load a
   * folder's images sorted by name as one batch.
   */
  private async uploadInputs(task: ExecutorTask, frames: readonly number[], classType: string | undefined): Promise<string> {
    const { client } = this.opts;
    const first = frames[0]!;
    if (this.step.per === "frame" || SINGLE_IMAGE_LOADERS.has(classType ?? "")) {
      return client.uploadImage(`nightshift_${task.attemptId}_${first}.png`, encodePng(await task.readFrame(first)), task.signal);
    }
    const folder = `nightshift_${task.attemptId}`;
    for (const f of frames) await client.uploadImage(`frame_${String(f).padStart(6, "0")}.png`, encodePng(await task.readFrame(f)), task.signal, folder);
    return folder;
  }

  /**
   * The step's input images sent by content, each fetched through the asset cache (verified by sha256) and
   * uploaded to ComfyUI's input folder as `nightshift/<sha256><ext>` (overwrite: the name is the content, so
   * a file of that name already there has these bytes); answers node id -> the name ComfyUI gave it. A file
   * this ComfyUI already holds (`uploaded`) is neither fetched nor sent again.
   */
  private async uploadStaticImages(signal: AbortSignal): Promise<Map<string, string>> {
    const names = new Map<string, string>();
    for (const img of this.step.images ?? []) names.set(img.node, await this.ensureStaticImage(img, signal));
    return names;
  }

  /** The name ComfyUI holds `img` under: known already (`uploaded`), or fetched and uploaded now. */
  private ensureStaticImage(img: ComfyImage, signal: AbortSignal): Promise<string> {
    const upload = () => this.uploadStaticImage(img, signal);
    return this.opts.uploaded?.ensure(staticImageName(img), upload) ?? upload();
  }

  private async uploadStaticImage(img: ComfyImage, signal: AbortSignal): Promise<string> {
    const { assets } = this.opts;
    if (assets === undefined) throw new StepFailedError("comfyui", `node ${img.node} needs image '${img.name}' sent by content, and this agent has no asset cache`);
    const path = await assets.ensure({ sha256: img.sha256, size: img.size }, signal).catch((err: unknown) => {
      if (signal.aborted) throw signal.reason;
      throw new StepFailedError("comfyui", `cannot fetch image '${img.name}' for node ${img.node}: ${(err as Error).message}`, { cause: err });
    });
    return this.opts.client.uploadImage(staticImageName(img), await readFile(path), signal, STATIC_IMAGE_FOLDER);
  }

  /**
   * Queues the prompt; when ComfyUI refuses it because a static image it was told to load is not in its input
   * folder (it restarted on an empty one, or someone cleaned it), those images are uploaded again and the
   * prompt queued again: once per chunk, so a second refusal fails the step with ComfyUI's words.
   */
  private async queueWithInputs(graph: ComfyuiWorkStep["workflow"], promptId: string, extraData: Record<string, unknown>, inputs: StaticInputs, signal: AbortSignal): Promise<void> {
    const { client } = this.opts;
    try {
      await client.queuePrompt(graph, promptId, extraData, signal);
    } catch (err) {
      const missing = err instanceof ComfyRejectedError && !inputs.reuploaded ? (this.step.images ?? []).filter((img) => refusedImageInput(err.body, img.node)) : [];
      if (missing.length === 0) throw err;
      inputs.reuploaded = true;
      this.opts.log.info({ url: client.url, nodes: missing.map((m) => m.node) }, "comfyui lacks static input images it was sent before; uploading them again");
      for (const img of missing) {
        this.opts.uploaded?.forget(staticImageName(img));
        const name = await this.ensureStaticImage(img, signal);
        inputs.images.set(img.node, name);
        setInput(graph, { node: img.node, input: "image" }, `images.${img.node}`, name);
      }
      await client.queuePrompt(graph, promptId, extraData, signal);
    }
  }

  private async *prompt(task: ExecutorTask, frames: number[], inputs: StaticInputs): AsyncIterable<EncodedFrame> {
    const { client } = this.opts;
    const { signal } = task;
    const first = frames[0];
    if (first === undefined) return;
    signal.throwIfAborted();
    const started = performance.now();
    const graph = structuredClone(this.step.workflow);
    const seed = task.seed + first;
    const { bind } = this.step;
    for (const [node, name] of inputs.images) setInput(graph, { node, input: "image" }, `images.${node}`, name);
    if (bind.seed !== null) setInput(graph, bind.seed, "bind.seed", seed);
    if (bind.image !== null) setInput(graph, bind.image, "bind.image", await this.uploadInputs(task, frames, graph[bind.image.node]?.class_type));
    if (bind.prefix !== null) setInput(graph, bind.prefix, "bind.prefix", `nightshift/${task.jobId}/${task.attemptId}_${String(first).padStart(6, "0")}`);
    const provenance: ComfyProvenance = { job: task.jobId, chunk: task.chunkId, attempt: task.attemptId, agent: this.opts.agentId, seed, frames, workflowSha256: this.step.workflowSha256 };

    const promptId = randomUUID();
    const watch = new PromptWatch(client, promptId, {
      signal,
      quietMs: this.opts.quietMs,
      unreachableMs: this.opts.unreachableMs,
      onProgress: (value, max, node) => task.onProgress?.({ frame: first, fraction: value / max, detail: `${node === null ? "" : `${graph[node]?.class_type ?? "node"} #${node} `}${value}/${max}` }),
    });
    const cancel = () => {
      client.cancel(promptId).catch((err: unknown) => this.opts.log.warn({ promptId, err: (err as Error).message }, "comfyui interrupt failed"));
    };
    signal.addEventListener("abort", cancel, { once: true });
    let entry: HistoryEntry;
    try {
      await this.queueWithInputs(graph, promptId, { extra_pnginfo: { nightshift: provenance } }, inputs, signal);
      this.opts.log.debug({ promptId, frames: frames.length }, "comfyui prompt queued");
      entry = await watch.result();
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      if (err instanceof ComfyUnavailableError) this.opts.onUnavailable?.();
      if (err instanceof ComfyRejectedError || (err instanceof ComfyExecutionError && !err.interrupted)) {
        task.onLog?.(`${err.message}\n`);
        throw new StepFailedError("comfyui", err.message, { cause: err });
      }
      throw err;
    } finally {
      watch.dispose();
      signal.removeEventListener("abort", cancel);
    }

    const files = outputImages(entry, bind.prefix?.node ?? null);
    if (files.length < frames.length) {
      throw new StepFailedError("comfyui", `the workflow saved ${files.length} image(s) for ${frames.length} frame(s); add a SaveImage node${this.step.per === "chunk" ? " and make a batch as long as the chunk" : ""}`);
    }
    task.onBusy?.((performance.now() - started) / 1000);
    for (let i = 0; i < frames.length; i++) {
      const file = files[i]!;
      if (!file.filename.toLowerCase().endsWith(".png")) throw new StepFailedError("comfyui", `output ${file.filename} is not a PNG; save frames with SaveImage`);
      yield { index: frames[i]!, data: await client.view(file, signal), format: "png" };
    }
  }
}

/** ComfyUI's loaders of one image file (nodes.py, comfy_extras): bound to one frame even with per: chunk. */
const SINGLE_IMAGE_LOADERS: ReadonlySet<string> = new Set(["LoadImage", "LoadImageMask", "LoadImageOutput"]);

/** The subfolder of ComfyUI's input folder that static input images are uploaded to, each named by its sha256. */
const STATIC_IMAGE_FOLDER = "nightshift";

/** A chunk's static input images: node id -> the name ComfyUI loads it by, and whether they were uploaded again already. */
interface StaticInputs {
  images: Map<string, string>;
  reuploaded: boolean;
}

/** The file name a static image is uploaded under: its sha256 and the artist's extension. */
function staticImageName(img: ComfyImage): string {
  return `${img.sha256}${imageExtension(img.name)}`;
}

/**
 * Whether ComfyUI's 400 answer refuses node `node`'s `image` input: LoadImage's VALIDATE_INPUTS says "Invalid
 * image file" (execution.py: custom_validation_failed, extra_info.input_name "image", details "image - ..."), or
 * an older ComfyUI's combo check says the name is not in the input folder's list (value_not_in_list).
 */
export function refusedImageInput(body: unknown, node: string): boolean {
  const parsed = PromptRejectedSchema.safeParse(body);
  if (!parsed.success || Array.isArray(parsed.data.node_errors)) return false;
  const errors = parsed.data.node_errors[node]?.errors ?? [];
  return errors.some((e) => {
    const input = (e as { extra_info?: { input_name?: unknown } }).extra_info?.input_name;
    return (e.type === "custom_validation_failed" || e.type === "value_not_in_list") && (input === "image" || e.details.startsWith("image"));
  });
}

/** The artist's file's extension, lower-cased (ComfyUI's loaders open by content; the name only helps a person); ".png" when it has none. */
function imageExtension(name: string): string {
  const ext = extname(name).toLowerCase();
  return /^\.[a-z0-9]{1,8}$/.test(ext) ? ext : ".png";
}

/** Sets a bound input; a binding to a node the workflow lacks fails the step naming it. */
function setInput(graph: ComfyuiWorkStep["workflow"], b: ComfyBinding, field: string, value: unknown): void {
  const node = graph[b.node];
  if (node === undefined) throw new StepFailedError("comfyui", `${field}: the workflow has no node "${b.node}"`);
  node.inputs[b.input] = value;
}

/** Saved images (type "output", not previews) of the prefix node, or of every output node in id order. */
function outputImages(entry: HistoryEntry, node: string | null): OutputFile[] {
  const ids = node !== null && entry.outputs[node] !== undefined ? [node] : Object.keys(entry.outputs).sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
  return ids.flatMap((id) => (entry.outputs[id]?.images ?? []).filter((f) => f.type === "output"));
}
