import { createServer, connect, type Server, type Socket } from "node:net";
import type { TestContext } from "node:test";
import { defer } from "./defer.ts";

/**
 * A loopback TCP proxy that can cut a link silently, as the soak's downed
 * bridge port does (test/lan/netns.ts `linkDown`): while cut, nothing passes
 * either way and nothing is closed, so neither end notices; bytes sent
 * meanwhile are held (TCP would retransmit them), and a connection opened
 * meanwhile gets no answer. When the link is back, a connection whose server
 * end is still open carries on with what was held; one whose server end went
 * away meanwhile (the server was stopped or restarted while the link was cut)
 * is reset, as the new server host's kernel answers the old connection's next
 * segment. Connections opened while cut reach the server then.
 */
export interface BlackholeProxy {
  readonly address: string;
  cut(): void;
  restore(): void;
  /** Connections reset by restore() because their server end had gone. */
  readonly resets: number;
  /** What clients sent while the link was cut and is held for the server now (latin1), all connections. */
  heldForServer(): string;
  /**
   * Holds what the server sends until restore() while the clients' bytes still pass: a link that carries
   * one way, as a host too busy to read its socket sees it (its pulls' heartbeats come late).
   */
  stallToClient(): void;
  /**
   * The connections open now carry nothing more either way, for good, and nothing closes them; connections
   * opened from now on pass: a link back after a cut whose old connections' far end is gone without a reset
   * reaching the client (the coordinator killed during the cut), or waits out its TCP retransmit backoff.
   */
  deafen(): void;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** What clients sent from now on, each read with its time (performance.now(), ms; latin1). */
  recordFromClient(): Array<{ atMs: number; text: string }>;
}

interface Pair {
  client: Socket;
  upstream: Socket | undefined;
  upstreamGone: boolean;
  /** deafen(): nothing passes on it any more. */
  deaf: boolean;
  toServer: Buffer[];
  toClient: Buffer[];
}

export async function startBlackholeProxy(t: TestContext, target: string): Promise<BlackholeProxy> {
  const url = new URL(target.includes("://") ? target : `tcp://${target}`);
  let isCut = false;
  let toClientStalled = false;
  let record: Array<{ atMs: number; text: string }> | undefined;
  let resets = 0;
  let accepted = 0;
  const pairs = new Set<Pair>();

  const close = (p: Pair): void => {
    pairs.delete(p);
    p.client.destroy();
    p.upstream?.destroy();
  };
  const attach = (p: Pair): void => {
    const up = connect(Number(url.port), url.hostname);
    p.upstream = up;
    up.on("data", (data: Buffer) => {
      if (p.deaf) return;
      if (isCut || toClientStalled) p.toClient.push(data);
      else p.client.write(data);
    });
    const gone = (): void => {
      p.upstreamGone = true;
      if (!isCut && !p.deaf) close(p);
    };
    up.on("error", gone).on("close", gone);
    for (const b of p.toServer.splice(0)) up.write(b);
  };

  const server: Server = createServer((client) => {
    const p: Pair = { client, upstream: undefined, upstreamGone: false, deaf: false, toServer: [], toClient: [] };
    pairs.add(p);
    accepted++;
    client.on("data", (data: Buffer) => {
      if (p.deaf) return;
      record?.push({ atMs: performance.now(), text: data.toString("latin1") });
      if (isCut || !p.upstream) p.toServer.push(data);
      else p.upstream.write(data);
    });
    client.on("error", () => close(p)).on("close", () => close(p));
    if (!isCut) attach(p);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  defer(t, async () => {
    for (const p of pairs) close(p);
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const { port } = server.address() as { port: number };
  return {
    address: `127.0.0.1:${port}`,
    cut() {
      isCut = true;
    },
    restore() {
      isCut = false;
      toClientStalled = false;
      for (const p of [...pairs]) {
        if (!p.upstream) {
          attach(p);
        } else if (p.upstreamGone) {
          resets++;
          pairs.delete(p);
          p.client.resetAndDestroy();
        } else {
          for (const b of p.toClient.splice(0)) p.client.write(b);
          for (const b of p.toServer.splice(0)) p.upstream.write(b);
        }
      }
    },
    get resets() {
      return resets;
    },
    deafen() {
      for (const p of pairs) p.deaf = true;
    },
    get accepted() {
      return accepted;
    },
    heldForServer() {
      return [...pairs].map((p) => Buffer.concat(p.toServer).toString("latin1")).join("");
    },
    stallToClient() {
      toClientStalled = true;
    },
    recordFromClient() {
      record = [];
      return record;
    },
  };
}
