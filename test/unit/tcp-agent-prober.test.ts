import assert from "node:assert/strict";
import { createServer } from "node:net";
import { test } from "node:test";
import { parseHostPort, TcpAgentProber } from "../../coordinator/agents/tcp-agent-prober.ts";
import { healthAddress } from "../../coordinator/grpc/agent-gateway-handler.ts";

test("the TCP prober on loopback: a listening port answers, the same port once closed refuses", async () => {
  const server = createServer((s) => s.destroy());
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  const prober = new TcpAgentProber();
  assert.equal(await prober.probe(`127.0.0.1:${port}`, 1000), "answered");
  await new Promise<void>((resolve) => server.close(() => resolve()));
  assert.equal(await prober.probe(`127.0.0.1:${port}`, 1000), "refused");
  assert.equal(await prober.probe("not an address", 1000), "no-answer", "an address it cannot read is never connected to");
});

test("health addresses: the join's peer address with the port the agent named, and back", () => {
  assert.equal(healthAddress("ipv4:10.77.1.3:51234", 4100), "10.77.1.3:4100");
  assert.equal(healthAddress("ipv6:[fe80::1]:51234", 4100), "[fe80::1]:4100");
  assert.equal(healthAddress("ipv4:10.77.1.3:51234", 0), "", "no port named: nothing to probe");
  assert.equal(healthAddress("ipv4:10.77.1.3:51234", 70_000), "");
  assert.equal(healthAddress("unix:/tmp/x.sock", 4100), "");
  assert.deepEqual(parseHostPort("10.77.1.3:4100"), { host: "10.77.1.3", port: 4100 });
  assert.deepEqual(parseHostPort("[fe80::1]:4100"), { host: "fe80::1", port: 4100 });
  assert.equal(parseHostPort("10.77.1.3"), undefined);
  assert.equal(parseHostPort("10.77.1.3:0"), undefined);
});
