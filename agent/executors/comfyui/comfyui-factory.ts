import type { Logger } from "../../../shared/log.ts";
import type { KindCapability, KindDevice } from "../../../shared/steps/kind-capability.ts";
import type { ComfyuiWorkStep } from "../../../shared/steps/work-step.ts";
import type { ExecutorContext, ExecutorFactory } from "../executor-registry.ts";
import type { Executor } from "../executor.ts";
import { ComfyClient } from "./comfy-client.ts";
import { ComfyUnavailableError } from "./comfy-errors.ts";
import type { SystemStats } from "./comfy-messages.ts";
import { ComfyuiExecutor } from "./comfyui-executor.ts";
import { UploadedInputs } from "./uploaded-inputs.ts";

/**
 * The comfyui executor factory: one ComfyUI server on the agent's machine
 * (`comfyui: { url }` in the agent's config). probe() asks /system_stats (the
 * version, the devices and their VRAM) and /object_info (the node classes,
 * advertised as the capability's features so that a workflow needing a
 * custom node is placed only where it is installed). The health watcher asks
 * /system_stats every few seconds: while ComfyUI does not answer,
 * available() is false and the agent stops taking comfyui chunks (and says
 * so) instead of failing every chunk it is given. Executors are kept per
 * workflow (their socket hold ends when the agent closes them); what static
 * input images this ComfyUI already holds is kept per factory, for all of them.
 */

export interface ComfyuiFactoryOptions {
  url: string;
  agentId: string;
  log: Logger;
  /** Health check period (default 5 s). */
  healthIntervalMs?: number;
  /** Prompt watching, passed to executors (see prompt-watch.ts). */
  quietMs?: number;
  unreachableMs?: number;
}

export type HealthListener = (available: boolean, reason: string) => void;

export class ComfyuiExecutorFactory implements ExecutorFactory<ComfyuiWorkStep> {
  readonly kind = "comfyui" as const;
  readonly client: ComfyClient;
  private up = false;
  private stats: SystemStats | null = null;
  private timer: NodeJS.Timeout | null = null;
  private checking = false;
  private readonly listeners = new Set<HealthListener>();
  /** The static input images this ComfyUI holds, shared by every executor of this factory. */
  readonly uploaded = new UploadedInputs();

  constructor(private readonly opts: ComfyuiFactoryOptions) {
    this.client = new ComfyClient({ url: opts.url, log: opts.log, clientId: `nightshift-${opts.agentId}-${crypto.randomUUID().slice(0, 8)}` });
  }

  async probe(): Promise<KindCapability | null> {
    try {
      const stats = await this.client.systemStats();
      const classes = await this.client.nodeClasses();
      this.setUp(true, "answers", stats);
      this.watch();
      this.opts.log.info({ url: this.opts.url, version: stats.system.comfyui_version, devices: stats.devices.map((d) => ({ name: d.name, vramTotal: d.vram_total, vramFree: d.vram_free })), nodeClasses: classes.length }, "comfyui found");
      return { kind: "comfyui", version: stats.system.comfyui_version, features: classes.slice(0, 5000), devices: kindDevices(stats) };
    } catch (err) {
      if (!(err instanceof ComfyUnavailableError)) throw err;
      this.setUp(false, err.message, null);
      this.watch();
      this.opts.log.info({ url: this.opts.url, err: err.message }, "no comfyui answers; comfyui steps not offered");
      return null;
    }
  }

  reuseKey(step: ComfyuiWorkStep): string | null {
    const images = step.images ?? [];
    return images.length === 0 ? step.workflowSha256 : `${step.workflowSha256}+${images.map((i) => `${i.node}=${i.sha256}`).join(",")}`;
  }

  async create(step: ComfyuiWorkStep, ctx: ExecutorContext): Promise<Executor> {
    if (step.kind !== "comfyui") throw new Error(`comfyui factory asked for a ${(step as { kind: string }).kind} step`);
    const executor = new ComfyuiExecutor(step, { client: this.client, agentId: this.opts.agentId, log: ctx.log, quietMs: this.opts.quietMs, unreachableMs: this.opts.unreachableMs, onUnavailable: () => void this.checkHealth(), uploaded: this.uploaded, ...(ctx.assets ? { assets: ctx.assets } : {}) });
    await executor.load(); // the registry hands out loaded executors (the socket held and open)
    return executor;
  }

  /** Whether ComfyUI answered the last health check; the agent takes comfyui chunks only while true. */
  available(): boolean {
    return this.up;
  }

  /** What /system_stats said last (devices with vram_total / vram_free), null when it did not answer. */
  systemStats(): SystemStats | null {
    return this.stats;
  }

  /** Called on every change of available(), with why. */
  onAvailability(listener: HealthListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Starts the health watcher (idempotent). */
  watch(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => void this.checkHealth(), this.opts.healthIntervalMs ?? 5_000);
    this.timer.unref();
  }

  /** One health check now (also what the watcher runs). */
  async checkHealth(): Promise<boolean> {
    if (this.checking) return this.up;
    this.checking = true;
    try {
      const stats = await this.client.systemStats();
      this.setUp(true, "answers again", stats);
    } catch (err) {
      this.setUp(false, (err as Error).message, null);
    } finally {
      this.checking = false;
    }
    return this.up;
  }

  close(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.client.close();
  }

  private setUp(up: boolean, reason: string, stats: SystemStats | null): void {
    this.stats = stats;
    if (up === this.up) return;
    this.up = up;
    if (up) this.opts.log.info({ url: this.opts.url }, "comfyui answers: taking comfyui chunks");
    else this.opts.log.warn({ url: this.opts.url, reason }, "comfyui does not answer: not taking comfyui chunks until it does");
    for (const l of this.listeners) l(up, reason);
  }
}

/** /system_stats' devices as the capability advertises them (bytes; a negative or fractional report is clamped). */
export function kindDevices(stats: SystemStats): KindDevice[] {
  const bytes = (n: number): number => (Number.isFinite(n) && n > 0 ? Math.floor(n) : 0);
  return stats.devices.slice(0, 64).map((d) => ({ name: d.name.slice(0, 200), type: d.type.slice(0, 32), vramTotal: bytes(d.vram_total), vramFree: bytes(d.vram_free) }));
}
