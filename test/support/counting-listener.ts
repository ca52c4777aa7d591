// Why this file exists: agent CLI tests stand a loopback listener where the coordinator's enrollment port would
// be, to see whether (and where) the agent went before it stopped.
import type { TestContext } from "node:test";
import { createServer, type AddressInfo } from "node:net";

/** A loopback TCP listener standing in for the coordinator's enrollment port: counts connections, closes each one. */
export async function countingListener(t: TestContext): Promise<{ address: string; connections: () => number }> {
  let n = 0;
  const server = createServer((socket) => {
    n++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { address: `127.0.0.1:${(server.address() as AddressInfo).port}`, connections: () => n };
}
