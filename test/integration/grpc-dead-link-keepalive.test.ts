import assert from "node:assert/strict";
import { test } from "node:test";
import { connectivityState } from "@grpc/grpc-js";
import { CoordinatorClient } from "../../agent/grpc/gateway-client.ts";
import { defer } from "../helpers/defer.ts";
import { startBlackholeProxy } from "../helpers/blackhole-proxy.ts";
import { startCoordinatorGrpc } from "../helpers/grpc-fixture.ts";
import { setupSink } from "../helpers/sink-fixture.ts";
import { queueChunk } from "../helpers/store-fixture.ts";

/** Most time the agent may take to notice that its connection to the coordinator carries nothing (2 s + 4 s of keepalive, 3 s of margin for a loaded host; 10 s + 5 s before). */
const NOTICED_WITHIN_MS = 9_000;

/** When the channel first leaves READY (ms since the epoch), or undefined when it is still READY at `deadline`. */
function leftReady(channel: ReturnType<CoordinatorClient["gateway"]["getChannel"]>, deadline: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const watch = (): void => {
      const state = channel.getConnectivityState(false);
      if (state !== connectivityState.READY) return resolve(Date.now());
      channel.watchConnectivityState(state, deadline, (err) => (err ? resolve(undefined) : watch()));
    };
    watch();
  });
}

test("an agent's connection cut silently (the coordinator killed while the agent's link was down: no FIN, no reset) is dropped within seconds by keepalive, not 10-15 s later", async (t) => {
  const s = setupSink(t);
  const g = await startCoordinatorGrpc(t, s.store, s.sink, s.clock.now);
  const proxy = await startBlackholeProxy(t, `127.0.0.1:${g.port}`);
  const client = new CoordinatorClient(proxy.address);
  defer(t, () => client.close());

  // A claim through the link: the connection is up and READY.
  const chunk = s.chunks[1]!;
  const answer = await client.claim(s.agent.id, chunk.id, queueChunk(s.store, chunk.id), 1);
  assert.equal(answer.skip, false, `claimed: ${answer.reason}`);
  const channel = client.gateway.getChannel();
  assert.equal(channel.getConnectivityState(false), connectivityState.READY);

  // The link goes silent and stays so: nothing closes the connection, only its keepalive can tell.
  const cutAt = Date.now();
  proxy.cut();
  const at = await leftReady(channel, cutAt + 20_000);
  assert.ok(at !== undefined, "still READY 20 s after the cut");
  const ms = at - cutAt;
  assert.ok(ms <= NOTICED_WITHIN_MS, `the dead connection was noticed ${ms} ms after the cut (bound ${NOTICED_WITHIN_MS} ms)`);
});
