import type { KindCapability } from "../../shared/steps/kind-capability.ts";
import type { WorkStep } from "../../shared/steps/work-step.ts";
import type { Executor } from "../executors/executor.ts";
import { NoExecutorError, type AnyExecutorFactory, type ExecutorContext, type ExecutorFactory } from "../executors/executor-registry.ts";

/** An executor lent to one chunk; release() closes it unless it is kept for the next chunk. */
export interface ExecutorLease {
  executor: Executor;
  release(): Promise<void>;
}

/**
 * The agent's executor registry and cache: one factory per step kind, probed
 * once at start (what is advertised is what this machine really has), and
 * built executors kept by their factory's reuse key (a model's hash), so
 * consecutive chunks of one job reuse a loaded session; the scheduler prefers
 * agents that already hold it (`loaded()`, in heartbeats).
 */
export class ExecutorCache {
  private readonly factories = new Map<string, AnyExecutorFactory>();
  private readonly byKey = new Map<string, Promise<Executor>>();
  private kinds: KindCapability[] = [];

  constructor(
    factories: readonly AnyExecutorFactory[],
    private readonly ctx: ExecutorContext,
  ) {
    for (const f of factories) this.factories.set(f.kind, f);
  }

  /** Asks every factory what this machine has; kinds that have nothing are left out. */
  async probe(): Promise<KindCapability[]> {
    const found: KindCapability[] = [];
    for (const f of this.factories.values()) {
      try {
        const cap = await f.probe();
        if (cap) found.push(cap);
        else this.ctx.log.info({ kind: f.kind }, "step kind not available on this machine");
      } catch (err) {
        this.ctx.log.warn({ kind: f.kind, err: (err as Error).message }, "step kind probe failed; not advertised");
      }
    }
    this.kinds = found;
    return found;
  }

  /** What the last probe found (advertised when joining). */
  capabilities(): KindCapability[] {
    return this.kinds;
  }

  /** Advertised kinds whose tool is down right now (a ComfyUI server that stopped answering): sent in heartbeats. */
  downKinds(): string[] {
    return this.kinds.filter((k) => this.factories.get(k.kind)?.available?.() === false).map((k) => k.kind);
  }

  /** Reuse keys of executors kept loaded (model hashes), advertised in heartbeats. */
  loaded(): string[] {
    return [...this.byKey.keys()];
  }

  async get(step: WorkStep): Promise<ExecutorLease> {
    const factory = this.factories.get(step.kind) as ExecutorFactory<WorkStep> | undefined;
    if (!factory || !this.kinds.some((k) => k.kind === step.kind)) throw new NoExecutorError(step.kind);
    const key = factory.reuseKey(step);
    if (key === null) {
      const executor = await factory.create(step, this.ctx);
      return { executor, release: () => executor.close() };
    }
    let p = this.byKey.get(key);
    if (!p) {
      p = factory.create(step, this.ctx);
      this.byKey.set(key, p);
      p.catch(() => this.byKey.delete(key));
    }
    return { executor: await p, release: async () => undefined };
  }

  async close(): Promise<void> {
    const all = [...this.byKey.values()];
    this.byKey.clear();
    for (const p of all) await p.then((e) => e.close()).catch(() => undefined);
    for (const f of this.factories.values()) await Promise.resolve(f.close?.()).catch(() => undefined);
  }
}
