/**
 * Runs the comfyui benchmark's ComfyUI stand-ins in a process of their own,
 * as ComfyUI is a process of its own next to the agent: the farm's CPU work
 * (commits, fsyncs on the coordinator's thread) then does not stall the
 * server whose time per prompt the benchmark measures, nor does the direct
 * client's. Started by bench/comfyui.bench.ts through fork(); speaks over IPC.
 *
 *   parent -> child: { type: "marks" } | { type: "close" }
 *   child -> parent: { type: "ready", urls } | { type: "marks", finishedAt: number[][] }
 */
import { fork, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { ComfyStandin } from "../test/support/comfyui-standin/standin-server.ts";

interface ToChild {
  type: "marks" | "close";
}
type FromChild = { type: "ready"; urls: string[] } | { type: "marks"; finishedAt: number[][] };

/** The parent's handle on the child: the servers' urls and each server's completion times (its own clock). */
export interface StandinProcess {
  urls: string[];
  finishedAt(): Promise<number[][]>;
  close(): Promise<void>;
}

/** Forks the child with `count` stand-ins of `stepMs` per sampler step (no preview frames). */
export async function startStandinProcess(count: number, stepMs: number): Promise<StandinProcess> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ["--child", String(count), String(stepMs)], { execArgv: ["--import", "tsx"], stdio: ["ignore", "ignore", "inherit", "ipc"] });
  const next = async (): Promise<FromChild> => ((await Promise.race([once(child, "message"), once(child, "exit").then(() => Promise.reject(new Error("stand-in process ended")))])) as [FromChild])[0];
  const ready = await next();
  if (ready.type !== "ready") throw new Error(`stand-in process said ${ready.type} first`);
  return {
    urls: ready.urls,
    finishedAt: async () => {
      child.send({ type: "marks" } satisfies ToChild);
      const m = await next();
      if (m.type !== "marks") throw new Error(`stand-in process answered ${m.type}`);
      return m.finishedAt;
    },
    close: async () => {
      if (child.exitCode !== null) return;
      const exited = once(child, "exit");
      child.send({ type: "close" } satisfies ToChild);
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function childMain(count: number, stepMs: number): Promise<void> {
  const servers = await Promise.all(Array.from({ length: count }, () => ComfyStandin.start({ stepMs, previews: false })));
  process.on("message", (m: ToChild) => {
    if (m.type === "marks") process.send?.({ type: "marks", finishedAt: servers.map((s) => [...s.finishedAt]) } satisfies FromChild);
    else void Promise.all(servers.map((s) => s.close())).finally(() => process.exit(0));
  });
  process.on("disconnect", () => void Promise.all(servers.map((s) => s.close())).finally(() => process.exit(0)));
  process.send?.({ type: "ready", urls: servers.map((s) => s.url) } satisfies FromChild);
}

if (process.argv[2] === "--child") void childMain(Number(process.argv[3]), Number(process.argv[4]));
