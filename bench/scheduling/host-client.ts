import { fork, type ChildProcess } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { HostCommand, HostReply } from "./host-protocol.ts";

const HOST = join(dirname(fileURLToPath(import.meta.url)), "agent-host.ts");

/**
 * The parent's end of an agent host process (agent-host.ts): one command at a
 * time, each answered by one reply. The child is killed (by its pid) if it
 * does not stop on request, and when the bench exits.
 */
export class AgentHost {
  private constructor(private readonly child: ChildProcess) {}

  static start(): AgentHost {
    const child = fork(HOST, [], { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
    const kill = (): void => {
      if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, "SIGKILL");
    };
    process.once("exit", kill);
    child.once("exit", () => process.off("exit", kill));
    return new AgentHost(child);
  }

  request<T extends HostReply["type"]>(cmd: HostCommand, expect: T, timeoutMs: number): Promise<Extract<HostReply, { type: T }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`agent host: no '${expect}' within ${timeoutMs} ms`)), timeoutMs);
      const onMessage = (r: HostReply): void => {
        if (r.type === "error") done(new Error(`agent host: ${r.message}`));
        else if (r.type === expect) done(undefined, r as Extract<HostReply, { type: T }>);
      };
      const onExit = (code: number | null): void => done(new Error(`agent host exited (${code}) before '${expect}'`));
      const done = (err?: Error, r?: Extract<HostReply, { type: T }>): void => {
        clearTimeout(timer);
        this.child.off("message", onMessage);
        this.child.off("exit", onExit);
        if (err) reject(err);
        else resolve(r as Extract<HostReply, { type: T }>);
      };
      this.child.on("message", onMessage);
      this.child.once("exit", onExit);
      this.child.send(cmd);
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((r) => this.child.once("exit", () => r()));
    await this.request({ type: "stop" }, "stopped", 20_000).catch(() => undefined);
    const timer = setTimeout(() => {
      if (this.child.exitCode === null && this.child.pid !== undefined) process.kill(this.child.pid, "SIGKILL");
    }, 8000);
    await exited;
    clearTimeout(timer);
  }
}
