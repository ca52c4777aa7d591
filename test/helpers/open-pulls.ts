import type { JetStreamManager } from "@nats-io/jetstream";
import { WORK_STREAM } from "../../shared/protocol/subjects.ts";
import { eventually } from "./eventually.ts";

/**
 * Waits (bounded) until the server holds at least `open[name]` pulls on each of the work stream's durable consumers
 * named: what a test needs before it places work for a pull to take, or cuts a link under an open pull. A fixed
 * sleep after a work loop's start is a guess that a loaded machine can miss.
 */
export async function pullsOpen(jsm: JetStreamManager, open: Record<string, number>, what: string, timeoutMs = 20_000): Promise<void> {
  await eventually(async () => {
    for (const [name, n] of Object.entries(open)) if ((await jsm.consumers.info(WORK_STREAM, name)).num_waiting < n) return false;
    return true;
  }, what, timeoutMs, 25);
}
