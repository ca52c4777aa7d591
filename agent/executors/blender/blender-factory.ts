import { BadInputError } from "../../../shared/errors.ts";
import { resolveUnderRoot } from "../../../shared/safe-path.ts";
import type { KindCapability } from "../../../shared/steps/kind-capability.ts";
import type { BlenderWorkStep } from "../../../shared/steps/work-step.ts";
import { NoExecutorError, StepFailedError, type ExecutorContext, type ExecutorFactory } from "../executor-registry.ts";
import type { Executor } from "../executor.ts";
import { BlenderExecutor } from "./blender-executor.ts";
import { probeBlender, type FoundBlender } from "./blender-probe.ts";

/**
 * The agent's factory for `kind: blender` steps. It probes Blender once (the
 * admin's `blender` path, else PATH) and maps each step's scene, a path
 * relative to the studio's shared root, onto this machine's mount of that
 * root, refusing any path that would leave it.
 */

export interface BlenderFactoryOptions {
  /** The admin's Blender binary; undefined looks for `blender` on PATH. */
  blenderPath?: string;
  /** Where this machine mounts the studio's shared root (the NAS); undefined refuses every Blender step. */
  sharedRoot?: string;
  /** SIGTERM-to-SIGKILL grace when a render is cancelled. */
  killGraceMs?: number;
}

export class BlenderExecutorFactory implements ExecutorFactory<BlenderWorkStep> {
  readonly kind = "blender";
  private found: Promise<FoundBlender | null> | undefined;

  constructor(private readonly options: BlenderFactoryOptions) {}

  async probe(): Promise<KindCapability | null> {
    return (await this.blender())?.capability ?? null;
  }

  /** Each chunk starts its own Blender process; there is nothing worth keeping between chunks. */
  reuseKey(): string | null {
    return null;
  }

  async create(step: BlenderWorkStep, ctx: ExecutorContext): Promise<Executor> {
    if (step.kind !== "blender") throw new NoExecutorError(step.kind);
    const found = await this.blender();
    if (found === null) throw new NoExecutorError("blender");
    const { sharedRoot, killGraceMs } = this.options;
    if (sharedRoot === undefined) throw new StepFailedError("blender", "this agent has no sharedRoot configured, so it cannot find scenes");
    let scenePath: string;
    try {
      scenePath = resolveUnderRoot(sharedRoot, step.scene, "scene", "shared root");
    } catch (err) {
      if (err instanceof BadInputError) throw new StepFailedError("blender", err.message, { cause: err });
      throw err;
    }
    ctx.log.debug({ scene: step.scene, scenePath, blender: found.path }, "blender executor created");
    return new BlenderExecutor({ blenderPath: found.path, scenePath, step, ...(killGraceMs === undefined ? {} : { killGraceMs }) });
  }

  private blender(): Promise<FoundBlender | null> {
    this.found ??= probeBlender(this.options.blenderPath);
    return this.found;
  }
}
