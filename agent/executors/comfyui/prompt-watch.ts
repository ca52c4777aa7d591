import type { ComfyClient } from "./comfy-client.ts";
import { ComfyExecutionError, ComfyPromptLostError, ComfyUnavailableError } from "./comfy-errors.ts";
import type { HistoryEntry, WsMessage } from "./comfy-messages.ts";

/**
 * Follows one queued prompt to its history entry. The socket is the fast
 * path (executing {node: null} for our prompt_id means the history is
 * written); /history and /queue are the truth. Whenever the socket has said
 * nothing about the prompt for `quietMs` (stalled, reconnecting, or a long
 * step), and whenever it reconnects, the watcher asks: in /history -> done;
 * in /queue -> still waiting (/history answering {} meanwhile is normal); in
 * neither -> ComfyUI restarted or dropped it: ComfyPromptLostError, never
 * done. A ComfyUI that stays unreachable for `unreachableMs` ends the wait
 * with ComfyUnavailableError; nothing waits past `maxWaitMs`.
 */

export interface PromptWatchOptions {
  signal: AbortSignal;
  /** Sampler progress (ComfyUI's `progress` message). */
  onProgress?: (value: number, max: number, node: string | null) => void;
  onLog?: (text: string) => void;
  /** Ask /history after this long without a socket message for the prompt (default 1000 ms). */
  quietMs?: number;
  /** Give up when ComfyUI does not answer for this long (default 30 s). */
  unreachableMs?: number;
  /** Give up on the prompt after this long (default 6 h: long video prompts are long). */
  maxWaitMs?: number;
}

/** After execution_success, how long to wait for executing {node: null} before asking /history. */
const SUCCESS_GRACE_MS = 100;

type Check = { state: "done"; entry: HistoryEntry } | { state: "waiting" } | { state: "lost" };

export class PromptWatch {
  private lastHeard = Date.now();
  /** When execution_success came; null before. */
  private endedAt: number | null = null;
  private failure: Error | null = null;
  private wake: (() => void) | null = null;
  private checkNow = false;
  private readonly off: () => void;
  private readonly quietMs: number;

  /** Subscribe before POST /prompt, so that no message for the prompt can be missed. */
  constructor(
    private readonly client: ComfyClient,
    readonly promptId: string,
    private readonly opts: PromptWatchOptions,
  ) {
    this.quietMs = opts.quietMs ?? 1_000;
    this.off = client.onMessage((m) => this.onMessage(m));
  }

  dispose(): void {
    this.off();
  }

  private kick(): void {
    this.checkNow = true;
    this.wake?.();
  }

  private onMessage(m: WsMessage): void {
    const d = m.data ?? {};
    if (m.type === "status" && typeof d.sid === "string") return this.kick(); // a (re)connected socket: whatever happened meanwhile, ask
    if (d.prompt_id !== this.promptId) return;
    this.lastHeard = Date.now();
    switch (m.type) {
      case "progress":
        if (typeof d.value === "number" && typeof d.max === "number" && d.max > 0) this.opts.onProgress?.(d.value, d.max, typeof d.node === "string" ? d.node : null);
        return;
      case "executing":
        if (d.node === null) this.kick();
        return;
      case "execution_success":
        // ComfyUI writes the history entry just after this and then says executing {node: null}: wait for that, not a poll race.
        this.endedAt = Date.now();
        return;
      case "execution_error":
        this.failure = new ComfyExecutionError(executionErrorMessage(d), false);
        return this.kick();
      case "execution_interrupted":
        this.failure = new ComfyExecutionError(`ComfyUI interrupted the prompt at ${String(d.node_type)} #${String(d.node_id)}`, true);
        return this.kick();
    }
  }

  /** Resolves with the history entry of a prompt that ran to success. */
  async result(): Promise<HistoryEntry> {
    const { signal } = this.opts;
    const deadline = Date.now() + (this.opts.maxWaitMs ?? 6 * 3600_000);
    const unreachableMs = this.opts.unreachableMs ?? 30_000;
    let unreachableSince: number | null = null;
    let seenConnects = this.client.connects;
    while (Date.now() < deadline) {
      signal.throwIfAborted();
      if (this.failure !== null) throw this.failure;
      if (this.client.connects !== seenConnects) {
        seenConnects = this.client.connects;
        this.checkNow = true;
      }
      const successUnconfirmed = this.endedAt !== null && Date.now() - this.endedAt >= SUCCESS_GRACE_MS;
      if (this.checkNow || successUnconfirmed || Date.now() - this.lastHeard >= this.quietMs) {
        this.checkNow = false;
        let check: Check | null = null;
        try {
          check = await this.check();
          unreachableSince = null;
        } catch (err) {
          if (!(err instanceof ComfyUnavailableError)) throw err;
          unreachableSince ??= Date.now();
          if (Date.now() - unreachableSince >= unreachableMs) throw err;
        }
        if (check?.state === "done") return this.finished(check.entry);
        if (check?.state === "lost") throw new ComfyPromptLostError(this.promptId);
        if (this.failure !== null) throw this.failure;
        this.lastHeard = Date.now(); // the next poll is one quiet period from now
      }
      await this.sleep(this.endedAt !== null ? Math.min(this.quietMs, SUCCESS_GRACE_MS) : this.quietMs);
    }
    throw new ComfyExecutionError(`prompt ${this.promptId} did not finish within ${Math.round((this.opts.maxWaitMs ?? 0) / 1000)} s`, false);
  }

  /** history, then queue, then history again (a prompt may finish between the two reads). */
  private async check(): Promise<Check> {
    const { signal } = this.opts;
    const first = await this.client.history(this.promptId, signal);
    if (first !== null) return { state: "done", entry: first };
    const q = await this.client.queue(signal);
    if (q.running.includes(this.promptId) || q.pending.includes(this.promptId)) return { state: "waiting" };
    const again = await this.client.history(this.promptId, signal);
    return again !== null ? { state: "done", entry: again } : { state: "lost" };
  }

  private finished(entry: HistoryEntry): HistoryEntry {
    const status = entry.status;
    if (status !== null && (status.status_str !== "success" || !status.completed)) {
      const err = status.messages.find(([event]) => event === "execution_error" || event === "execution_interrupted");
      if (err?.[0] === "execution_interrupted") throw new ComfyExecutionError("ComfyUI interrupted the prompt", true);
      throw new ComfyExecutionError(err ? executionErrorMessage(err[1]) : `ComfyUI reports the prompt as ${status.status_str}`, false);
    }
    return entry;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.opts.signal.removeEventListener("abort", done);
        this.wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.opts.signal.addEventListener("abort", done, { once: true });
      this.wake = done;
      if (this.checkNow) done();
    });
  }
}

/** "KSampler #3: RuntimeError: CUDA out of memory" from an execution_error message. */
function executionErrorMessage(d: Record<string, unknown>): string {
  const text = String(d.exception_message ?? "").trim();
  return `${String(d.node_type ?? "node")} #${String(d.node_id ?? "?")}: ${d.exception_type ? `${String(d.exception_type)}: ` : ""}${text}`;
}
