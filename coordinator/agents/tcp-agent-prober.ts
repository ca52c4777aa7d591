import { connect } from "node:net";
import type { AgentProber, ProbeAnswer } from "./agent-prober.ts";

/**
 * Why this file exists: the transport side of the liveness probe
 * (agent-prober.ts): one TCP connect to an agent's health port, closed as soon
 * as it is accepted. Nothing is sent. Only addresses the coordinator learned
 * from the agent's own join are probed (the registry's rows), never a range.
 */
export class TcpAgentProber implements AgentProber {
  probe(address: string, timeoutMs: number): Promise<ProbeAnswer> {
    const target = parseHostPort(address);
    if (!target) return Promise.resolve("no-answer");
    return new Promise((resolve) => {
      let settled = false;
      const socket = connect({ host: target.host, port: target.port });
      const finish = (answer: ProbeAnswer): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        resolve(answer);
      };
      socket.once("connect", () => finish("answered"));
      socket.once("error", (err: NodeJS.ErrnoException) => finish(err.code === "ECONNREFUSED" || err.code === "ECONNRESET" ? "refused" : "no-answer"));
      // The timeout is judged after the event loop's poll phase (setImmediate): should this process have been stalled
      // past the timeout, an accept the kernel already finished is read first and not taken for silence.
      const timer = setTimeout(() => setImmediate(() => finish("no-answer")), timeoutMs);
      timer.unref();
    });
  }
}

/** "10.0.0.5:4100" or "[fe80::1]:4100" to host and port; undefined when it is neither. */
export function parseHostPort(address: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(address);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (!(port >= 1 && port <= 65535)) return undefined;
  return { host: (m[1] ?? m[2]) as string, port };
}
