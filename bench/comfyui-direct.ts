import WebSocket from "ws";
import { ComfyuiExecutorFactory } from "../agent/executors/comfyui/comfyui-factory.ts";
import type { Logger } from "../shared/log.ts";
import type { ComfyuiWorkStep } from "../shared/steps/work-step.ts";

/**
 * The two baselines of the comfyui benchmark, both against stand-ins started
 * by the caller: `direct` is what a script that drives ComfyUI by hand does
 * per prompt (POST /prompt, wait on the socket for executing {node: null},
 * GET /history, GET /view), with nothing else; `executor` is the agent's
 * comfyui executor alone (its client, prompt watcher and bindings), without
 * the farm around it. Each prompt's time is POST to last byte of the frame.
 */

export interface PromptTimes {
  /** Per prompt, milliseconds, in completion order. */
  ms: number[];
  wallSeconds: number;
}

/** `count` one-frame prompts spread over the servers, one client per server, the servers working in parallel. */
export async function runDirect(urls: readonly string[], workflow: ComfyuiWorkStep["workflow"], count: number): Promise<PromptTimes> {
  const started = performance.now();
  const ms: number[] = [];
  await Promise.all(
    urls.map(async (url, s) => {
      const clientId = `direct-${s}`;
      const ws = new WebSocket(`${url.replace("http", "ws")}/ws?clientId=${clientId}`);
      await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
      const waiting = new Map<string, () => void>();
      ws.on("message", (data, binary) => {
        if (binary) return;
        const m = JSON.parse(String(data)) as { type: string; data: { node?: unknown; prompt_id?: string } };
        if (m.type === "executing" && m.data.node === null && m.data.prompt_id !== undefined) waiting.get(m.data.prompt_id)?.();
      });
      try {
        for (let i = s; i < count; i += urls.length) {
          const t0 = performance.now();
          const promptId = crypto.randomUUID();
          const graph = structuredClone(workflow);
          graph["3"]!.inputs.seed = i;
          graph["9"]!.inputs.filename_prefix = `direct/${promptId}`;
          const done = new Promise<void>((resolve) => waiting.set(promptId, resolve));
          const res = await fetch(`${url}/prompt`, { method: "POST", body: JSON.stringify({ prompt: graph, client_id: clientId, prompt_id: promptId }) });
          if (!res.ok) throw new Error(`direct: POST /prompt answered ${res.status}`);
          await res.arrayBuffer();
          await done;
          waiting.delete(promptId);
          const h = (await (await fetch(`${url}/history/${promptId}`)).json()) as Record<string, { outputs: Record<string, { images: Array<{ filename: string; subfolder: string; type: string }> }> }>;
          const img = h[promptId]?.outputs["9"]?.images[0];
          if (img === undefined) throw new Error(`direct: prompt ${promptId} has no image`);
          const view = await fetch(`${url}/view?${new URLSearchParams(img)}`);
          if ((await view.arrayBuffer()).byteLength === 0) throw new Error("direct: empty /view");
          ms.push(performance.now() - t0);
        }
      } finally {
        ws.close();
      }
    }),
  );
  return { ms, wallSeconds: (performance.now() - started) / 1000 };
}

/** The same prompts through the agent's comfyui executor, one executor per server, one frame per run() as the farm gives it. */
export async function runExecutor(urls: readonly string[], step: ComfyuiWorkStep, count: number, log: Logger): Promise<PromptTimes> {
  const started = performance.now();
  const ms: number[] = [];
  await Promise.all(
    urls.map(async (url, s) => {
      const factory = new ComfyuiExecutorFactory({ url, agentId: `bench-${s}`, log });
      try {
        if ((await factory.probe()) === null) throw new Error(`executor: no ComfyUI at ${url}`);
        const ex = await factory.create(step, { log });
        await ex.load();
        const signal = new AbortController().signal;
        for (let i = s; i < count; i += urls.length) {
          const t0 = performance.now();
          const task = { jobId: "bench", chunkId: `c${i}`, attemptId: `a${i}`, frames: [i], seed: 0, signal, readFrame: () => Promise.reject(new Error("no input")) };
          for await (const f of ex.run(task)) if (f.data.byteLength === 0) throw new Error("executor: empty frame");
          ms.push(performance.now() - t0);
        }
      } finally {
        factory.close();
      }
    }),
  );
  return { ms, wallSeconds: (performance.now() - started) / 1000 };
}

