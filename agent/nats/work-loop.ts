import type { NatsConnection } from "@nats-io/nats-core";
import { jetstream, type Consumer, type JsMsg } from "@nats-io/jetstream";
import { setTimeout as sleep } from "node:timers/promises";
import { WorkMessageSchema, decodeJson, type WorkMessage } from "../../shared/protocol/messages.ts";
import { POOL_CONSUMER, WORK_STREAM } from "../../shared/protocol/subjects.ts";
import type { Logger } from "../../shared/log.ts";

/** What the loop does with one pulled message; resolves when the message may be acked. */
export type WorkHandler = (msg: WorkMessage, delivery: number) => Promise<void>;

export interface WorkLoopOptions {
  /** Seconds the server waits for an ack; in-progress acks go out at a third of it. */
  ackWaitSeconds: number;
  /** Long-poll length of one pull, ms. */
  pullExpiresMs?: number;
}

/**
 * Pulls chunk messages one at a time from the shared pool consumer, keeps the
 * message alive with in-progress acks while the handler runs, and acks it when
 * the handler is done (the coordinator owns retries from then on). A message
 * that is not JSON of the right shape is terminated so it is never redelivered.
 * If the agent dies mid-chunk, the message is redelivered after ack-wait.
 */
export class WorkLoop {
  private stopping = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly handler: WorkHandler,
    private readonly opts: WorkLoopOptions,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.stopping = false;
    this.loop = this.run();
  }

  /** Stops pulling; resolves once the current message (if any) is handled. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop;
  }

  private async consumer(): Promise<Consumer> {
    return jetstream(this.nc).consumers.get(WORK_STREAM, POOL_CONSUMER);
  }

  private async run(): Promise<void> {
    let consumer: Consumer | undefined;
    while (!this.stopping) {
      try {
        consumer ??= await this.consumer();
        const m = await consumer.next({ expires: this.opts.pullExpiresMs ?? 1000 });
        if (!m) continue;
        if (this.stopping) {
          m.nak();
          break;
        }
        await this.handle(m);
      } catch (err) {
        if (this.stopping || this.nc.isClosed()) break;
        this.log.warn({ err: (err as Error).message }, "work pull failed; retrying");
        consumer = undefined;
        await sleep(500);
      }
    }
  }

  private async handle(m: JsMsg): Promise<void> {
    let msg: WorkMessage;
    try {
      msg = decodeJson(WorkMessageSchema, m.data);
    } catch (err) {
      this.log.error({ err: (err as Error).message, seq: m.seq }, "malformed work message terminated");
      m.term("malformed");
      return;
    }
    const keepAlive = setInterval(() => m.working(), Math.max(500, (this.opts.ackWaitSeconds * 1000) / 3));
    try {
      await this.handler(msg, m.info.deliveryCount);
      m.ack();
    } catch (err) {
      // The handler could not settle the chunk with the coordinator (unreachable):
      // let JetStream redeliver it after a short delay.
      this.log.warn({ err: (err as Error).message, chunkId: msg.chunkId }, "work not settled; message will be redelivered");
      m.nak(2000);
    } finally {
      clearInterval(keepAlive);
    }
  }
}
