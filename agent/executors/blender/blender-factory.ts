import { BadInputError } from "../../../shared/errors.ts";
import { resolveUnderRoot } from "../../../shared/safe-path.ts";
import type { KindCapability } from "../../../shared/steps/kind-capability.ts";
import type { BlenderWorkStep } from "../../../shared/steps/work-step.ts";
import { NoExecutorError, StepFailedError, type ExecutorContext, type ExecutorFactory } from "../executor-registry.ts";
import type { Executor } from "../executor.ts";
import { BlenderExecutor } from "./blender-executor.ts";
import { probeBlender, type FoundBlender } from "./blender-probe.ts";
import { SceneTrees } from "./scene-trees.ts";
import { join } from "node:path";
import type { SceneFile } from "../../../shared/assets/scene-tree.ts";
import { BLENDER_SCENE_TREE, BLENDER_SHARED_ROOT } from "../../../shared/steps/step-needs.ts";

/**
 * The agent's factory for `kind: blender` steps. It probes Blender once (the
 * admin's `blender` path, else PATH) and finds each step's scene: a scene
 * sent by content (`step.tree`) is rebuilt in the asset cache
 * (scene-trees.ts); otherwise the scene is a path relative to the studio's
 * shared root, mapped onto this machine's mount of it. Either way a path that
 * would leave its root is refused.
 */

export interface BlenderFactoryOptions {
  /** The admin's Blender binary; undefined looks for `blender` on PATH. */
  blenderPath?: string;
  /** Where this machine mounts the studio's shared root (the NAS); undefined: only scenes sent by content. */
  sharedRoot?: string;
  /** SIGTERM-to-SIGKILL grace when a render is cancelled. */
  killGraceMs?: number;
}

export class BlenderExecutorFactory implements ExecutorFactory<BlenderWorkStep> {
  readonly kind = "blender";
  private found: Promise<FoundBlender | null> | undefined;
  private trees: SceneTrees | undefined;

  constructor(private readonly options: BlenderFactoryOptions) {}

  async probe(): Promise<KindCapability | null> {
    const cap = (await this.blender())?.capability;
    if (cap === undefined) return null;
    // What the scheduler matches a step's scene against (shared/steps/step-needs.ts).
    return { ...cap, features: [...(this.options.sharedRoot === undefined ? [] : [BLENDER_SHARED_ROOT]), BLENDER_SCENE_TREE] };
  }

  /** Each chunk starts its own Blender process; there is nothing worth keeping between chunks. */
  reuseKey(): string | null {
    return null;
  }

  async create(step: BlenderWorkStep, ctx: ExecutorContext): Promise<Executor> {
    if (step.kind !== "blender") throw new NoExecutorError(step.kind);
    const found = await this.blender();
    if (found === null) throw new NoExecutorError("blender");
    const { killGraceMs } = this.options;
    const scene = step.tree === undefined ? { path: this.underSharedRoot(step), release: () => undefined } : await this.fromTree(step, step.tree, ctx);
    ctx.log.debug({ scene: step.scene, scenePath: scene.path, blender: found.path }, "blender executor created");
    return new BlenderExecutor({ blenderPath: found.path, scenePath: scene.path, step, onClose: scene.release, ...(killGraceMs === undefined ? {} : { killGraceMs }) });
  }

  private underSharedRoot(step: BlenderWorkStep): string {
    const { sharedRoot } = this.options;
    if (sharedRoot === undefined) throw new StepFailedError("blender", "this agent has no sharedRoot configured, so it cannot find scenes");
    return refuseOutside(() => resolveUnderRoot(sharedRoot, step.scene, "scene", "shared root"));
  }

  /** The scene's files fetched through the asset cache and laid out as the submitter had them. */
  private async fromTree(step: BlenderWorkStep, tree: SceneFile[], ctx: ExecutorContext): Promise<{ path: string; release: () => void }> {
    if (ctx.assets === undefined) throw new StepFailedError("blender", "this agent has no asset cache, so it cannot fetch a scene sent by content");
    this.trees ??= new SceneTrees({ assets: ctx.assets, dir: join(ctx.assets.dir, "scenes") });
    const lease = await this.trees.acquire(tree).catch((err: unknown) => {
      throw new StepFailedError("blender", `cannot fetch the scene's files: ${(err as Error).message}`, { cause: err });
    });
    try {
      return { path: refuseOutside(() => resolveUnderRoot(lease.root, step.scene, "scene", "scene tree")), release: lease.release };
    } catch (err) {
      lease.release();
      throw err;
    }
  }

  private blender(): Promise<FoundBlender | null> {
    this.found ??= probeBlender(this.options.blenderPath);
    return this.found;
  }
}

/** A path refused by safe-path.ts fails the step with its message. */
function refuseOutside(resolvePath: () => string): string {
  try {
    return resolvePath();
  } catch (err) {
    if (err instanceof BadInputError) throw new StepFailedError("blender", err.message, { cause: err });
    throw err;
  }
}
