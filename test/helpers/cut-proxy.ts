import { createServer, connect, type Server, type Socket } from "node:net";
import type { TestContext } from "node:test";
import { defer } from "./defer.ts";

/**
 * A loopback TCP proxy in front of a server that can break a connection
 * mid-stream: after `cutAfter(n)`, the first connection that has carried n
 * bytes from the server to the client is destroyed on both sides, as a pulled
 * cable or a crashed switch would. Later connections pass untouched.
 */
export interface CutProxy {
  readonly address: string;
  cutAfter(bytes: number): void;
  /** Connections cut so far. */
  readonly cuts: number;
}

export async function startCutProxy(t: TestContext, target: string): Promise<CutProxy> {
  const colon = target.lastIndexOf(":");
  const host = target.slice(0, colon).replace(/^\[|\]$/g, "");
  const port = Number(target.slice(colon + 1));
  let armed: number | undefined;
  let cuts = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(port, host);
    sockets.add(client).add(upstream);
    let carried = 0;
    const close = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", close).on("close", close);
    upstream.on("error", close).on("close", close);
    client.pipe(upstream);
    upstream.on("data", (data: Buffer) => {
      carried += data.length;
      if (armed !== undefined && carried >= armed) {
        armed = undefined;
        cuts++;
        close();
        return;
      }
      if (!client.write(data)) {
        upstream.pause();
        client.once("drain", () => upstream.resume());
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  defer(t, async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const { port: bound } = server.address() as { port: number };
  return {
    address: `127.0.0.1:${bound}`,
    cutAfter(bytes: number) {
      armed = bytes;
    },
    get cuts() {
      return cuts;
    },
  };
}
