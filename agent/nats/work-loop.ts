import type { NatsConnection } from "@nats-io/nats-core";
import { JetStreamError, jetstream, type Consumer, type JsMsg } from "@nats-io/jetstream";
import { setTimeout as sleep } from "node:timers/promises";
import { WorkMessageSchema, decodeJson, type WorkMessage } from "../../shared/protocol/messages.ts";
import { POOL_CONSUMER, WORK_STREAM } from "../../shared/protocol/subjects.ts";
import type { Logger } from "../../shared/log.ts";
import { retryDuringElection } from "../../shared/nats/retry-during-election.ts";
import { ReconnectRace } from "../../shared/nats/reconnect-race.ts";

/** A chunk the coordinator answered a claim for the next chunk with: `done` settles when it is handled. */
export interface TakenNext {
  done: Promise<void>;
}

/** What the loop does with one pulled message; resolves when the message may be acked. */
export type WorkHandler = (msg: WorkMessage, delivery: number) => Promise<void>;

/**
 * NIGHTSHIFT_DEBUG_PULLS=1: every pull and its outcome, per consumer, at debug level (so with
 * NIGHTSHIFT_LOG_LEVEL=debug too). Off by default: two pulls a second per idle agent.
 */
const DEBUG_PULLS = process.env.NIGHTSHIFT_DEBUG_PULLS === "1";

export interface WorkLoopOptions {
  /** Seconds the server waits for an ack; in-progress acks go out at a third of it. */
  ackWaitSeconds: number;
  /** Long-poll length of one pull, ms. */
  pullExpiresMs?: number;
  /** Timeout of a JetStream API request (the consumer look-up), ms; nats.js's default is 5 s. */
  apiTimeoutMs?: number;
  /** Asked before each pull and on each message: false pauses taking work (someone else uses the GPU). */
  mayTake?: () => boolean;
  /** The agent's own durable consumer (work placed on this agent); pulled alongside the pool. */
  agentConsumer?: string;
  /**
   * Asked while messages are in hand: true lets the loop pull one more before they are done (the agent
   * claims its next chunk while the last one finishes, uploads and commits). Default: never (one at a time).
   * The answer may change without a message settling: call wake() then.
   */
  mayTakeAnother?: () => boolean;
  /**
   * Asks the coordinator for the next chunk directly (a claim answered with its work: no message, nothing to
   * keep alive or ack); resolves with that chunk's handling, or null for none. Asked where a pull would go out,
   * after the agent took a chunk (pulled or answered); after a none the loop pulls until it takes one again, so
   * a new job or a chunk placed on this agent still reaches it. None: the loop only pulls.
   */
  takeNext?: () => Promise<TakenNext | null>;
}

/**
 * Pulls chunk messages one at a time from the shared pool consumer and, when
 * given, the agent's own consumer (placed work), keeps the message alive with
 * in-progress acks while the handler runs, and acks it when the handler is
 * done (the coordinator owns retries from then on). A message that is not JSON
 * of the right shape is terminated so it is never redelivered. If the agent
 * dies mid-chunk, the message is redelivered after ack-wait.
 *
 * Both consumers are polled while the agent is idle, so work reaches it at
 * once from either. One message is handled at a time unless mayTakeAnother()
 * says the agent wants its next one ahead (handlers then overlap: the agent
 * orders them). When a message arrives while the loop is full (the other
 * consumer's pull was still open), a placed one waits its turn (kept alive
 * with in-progress acks) and a pool one is handed back (nak, 100 ms) for an
 * idle agent.
 */
export class WorkLoop {
  private stopping = false;
  private loop: Promise<void> | undefined;
  /** Messages being handled now. */
  private readonly inHand = new Set<Promise<void>>();
  private idleWaiters: Array<() => void> = [];
  /** Resolves when stop() is called: an open pull is abandoned then (while NATS reconnects it may never settle). */
  private stopped!: Promise<null>;
  private signalStop: () => void = () => undefined;
  /** Ask takeNext() before the next pull: the agent took a chunk since the last none. */
  private askNext = true;
  /** An ack in flight when the connection drops is sent again once it is back: the loop holds the message until it is confirmed. */
  private readonly race: ReconnectRace;

  constructor(
    private readonly nc: NatsConnection,
    private readonly handler: WorkHandler,
    private readonly opts: WorkLoopOptions,
    private readonly log: Logger,
  ) {
    this.race = new ReconnectRace(nc);
  }

  start(): void {
    this.stopping = false;
    this.stopped = new Promise<null>((resolve) => (this.signalStop = () => resolve(null)));
    const names = [...(this.opts.agentConsumer ? [this.opts.agentConsumer] : []), POOL_CONSUMER];
    this.loop = Promise.all(names.map((n) => this.run(n))).then(() => undefined);
  }

  /** Stops pulling; resolves once the messages in hand (if any) are handled. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.signalStop();
    this.wakeIdle();
    await this.loop;
    await Promise.all([...this.inHand]);
  }

  /** Asks mayTakeAnother() again (the agent's answer changed). */
  wake(): void {
    this.wakeIdle();
  }

  /** Full: a message is in hand and the agent does not want another one yet. */
  private get busy(): boolean {
    return this.inHand.size > 0 && this.opts.mayTakeAnother?.() !== true;
  }

  private async consumer(name: string): Promise<Consumer> {
    return jetstream(this.nc, this.opts.apiTimeoutMs ? { timeout: this.opts.apiTimeoutMs } : {}).consumers.get(WORK_STREAM, name);
  }

  private whenIdle(): Promise<void> {
    return this.busy && !this.stopping ? new Promise((r) => this.idleWaiters.push(r)) : Promise.resolve();
  }

  private wakeIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private async run(name: string): Promise<void> {
    let consumer: Consumer | undefined;
    // The last pull's send time and the connection's messages in by then: a failed pull's warning says how
    // long it was open and whether anything else reached this connection meanwhile (a silent link, or a pull
    // whose heartbeats alone did not come: pullFailureFacts).
    let pulled: PullSent | null = null;
    while (!this.stopping) {
      try {
        pulled = null;
        if (this.opts.mayTake?.() === false) {
          await sleep(250);
          continue;
        }
        while (this.busy && !this.stopping) await this.whenIdle();
        if (this.stopping) break;
        if (name === POOL_CONSUMER && this.opts.takeNext && this.askNext) {
          if (await this.takenNext(this.opts.takeNext)) continue;
          this.askNext = false;
          if (this.stopping) break;
        }
        consumer ??= (await this.untilStopped(this.consumer(name))) ?? undefined;
        if (!consumer) break;
        if (DEBUG_PULLS) this.log.debug({ consumer: name }, "pull sent");
        pulled = { atMs: performance.now(), inMsgs: this.nc.stats().inMsgs };
        const m = await this.untilStopped(consumer.next({ expires: this.opts.pullExpiresMs ?? 1000 }), (late) => late?.nak());
        if (DEBUG_PULLS) this.log.debug({ consumer: name, seq: m?.seq ?? null, subject: m?.subject ?? null }, "pull ended");
        if (!m) continue;
        if (this.stopping) {
          m.nak();
          break;
        }
        if (this.opts.mayTake?.() === false) {
          m.nak(); // paused while the pull was open: another agent takes it
          continue;
        }
        if (this.busy) {
          if (name === POOL_CONSUMER) {
            // The agent's own consumer delivered first: an idle agent takes this one. The short delay lets
            // pulls left open by other busy agents expire, so the message does not bounce between them.
            if (DEBUG_PULLS) this.log.debug({ consumer: name, seq: m.seq }, "pool message handed back: busy");
            m.nak(100);
            continue;
          }
          // Placed on this agent: it waits its turn, kept alive.
          const keepAlive = setInterval(() => m.working(), Math.max(500, (this.opts.ackWaitSeconds * 1000) / 3));
          while (this.busy && !this.stopping) await this.whenIdle();
          clearInterval(keepAlive);
          if (this.stopping) {
            m.nak();
            break;
          }
        }
        this.askNext = true;
        this.hold(this.handle(m));
      } catch (err) {
        if (this.stopping || this.nc.isClosed()) break;
        this.log.warn({ err: (err as Error).message, consumer: name, ...pullFailureFacts(pulled, this.nc) }, "work pull failed; retrying");
        // The consumer handle is kept: a pull names the durable consumer, so there is nothing to look up again.
        // Looking it up after each failed pull sent an API request into a link that had just gone silent: lost
        // there, it was waited on for its whole timeout (5 s) even once the link was back and the client had
        // reconnected, and placed work sat meanwhile (soak: a placed chunk passed over after a restart).
        // A pull given up for missed heartbeats on a link that carries (the PING answered: a host too busy to
        // read them in time, not a silent link) is sent again at once: the 500 ms wait held a chunk placed
        // meanwhile back by as much (64 agents on two host processes: first chunks 1.1-2.2 s late).
        if (missedHeartbeats(err) && (await this.linkCarries())) continue;
        await sleep(500);
        await this.linkCarries();
      }
    }
  }

  /** Counts `work` in hand until it settles (a failure logged), then lets the loops pull again. */
  private hold(work: Promise<void>): void {
    const handled: Promise<void> = work
      .catch((err: unknown) => this.log.error({ err: (err as Error).message }, "work message handling failed"))
      .finally(() => {
        this.inHand.delete(handled);
        this.wakeIdle();
      });
    this.inHand.add(handled);
  }

  /**
   * Asks takeNext() and holds what it answers. The ask counts as in hand while in flight, so the other
   * consumer's loop does not pull meanwhile unless the agent wants another chunk anyway. True when answered
   * with work; a failed ask (the coordinator unreachable) counts as none.
   */
  private async takenNext(takeNext: () => Promise<TakenNext | null>): Promise<boolean> {
    let answered!: (work: boolean) => void;
    const got = new Promise<boolean>((r) => (answered = r));
    this.hold(
      (async () => {
        let work: TakenNext | null = null;
        try {
          work = await takeNext();
        } finally {
          answered(work !== null);
        }
        if (work) await work.done;
      })(),
    );
    return (await this.untilStopped(got)) === true;
  }

  /**
   * Waits until the server answers a PING, or the client drops the connection (a disconnect rejects the
   * PING), or stop(). A failed pull is mostly a link gone silent (its heartbeats missed): a pull sent into
   * it is held, as TCP holds it, and reaches the server when the link is back, together with the
   * unsubscribe of its inbox that the client sent once it gave the pull up. If the server hands that pull
   * a message before it reads the unsubscribe, the message goes to an inbox the client has dropped and
   * is lost until its ack wait (a flaky CI failure: placed work held back 30 s). So no pull goes out
   * until the link carries again. True when the server answered the PING (false: the connection dropped,
   * it is closed, or stop()).
   */
  private async linkCarries(): Promise<boolean> {
    if (this.stopping || this.nc.isClosed()) return false;
    const answered = await this.untilStopped(this.nc.flush().then(() => true, () => false));
    return answered === true && !this.stopping;
  }

  /**
   * Settles with `p`, or with null once stop() is called. What `p` yields
   * after that goes to `giveBack` (a message a pull abandoned this way
   * delivers later is handed back at once).
   */
  private untilStopped<T>(p: Promise<T>, giveBack?: (late: T) => void): Promise<T | null> {
    p.then((late) => {
      if (this.stopping) giveBack?.(late);
    }).catch(() => undefined);
    return Promise.race([p, this.stopped]);
  }

  private async handle(m: JsMsg): Promise<void> {
    let msg: WorkMessage;
    try {
      msg = decodeJson(WorkMessageSchema, m.data);
    } catch (err) {
      this.log.error({ err: (err as Error).message, seq: m.seq }, "malformed work message terminated");
      // No reason text: nats-server before 2.10 ignores "+TERM <reason>" and would redeliver the message forever.
      m.term();
      return;
    }
    const keepAlive = setInterval(() => m.working(), Math.max(500, (this.opts.ackWaitSeconds * 1000) / 3));
    try {
      await this.handler(msg, m.info.deliveryCount);
    } catch (err) {
      // The handler could not settle the chunk with the coordinator (unreachable):
      // let JetStream redeliver it after a short delay.
      this.log.warn({ err: (err as Error).message, chunkId: msg.chunkId }, "work not settled; message will be redelivered");
      m.nak(2000);
      clearInterval(keepAlive);
      return;
    }
    try {
      await this.ack(m);
    } finally {
      clearInterval(keepAlive);
    }
  }

  /**
   * Acks and waits for the server's confirmation; during a cluster's leader
   * election the ack is sent again (an ack is idempotent), bounded. An ack
   * lost for good is harmless: the message comes back after ack-wait and the
   * coordinator refuses the claim (the chunk is no longer queued).
   */
  private async ack(m: JsMsg): Promise<void> {
    try {
      await this.race.run(() => m.ackAck({ timeout: 3000 }));
      return;
    } catch (err) {
      this.log.warn({ err: (err as Error).message, seq: m.seq }, "ack not confirmed; sending it again");
    }
    // JsMsg sends ackAck once only; the ack subject is the reply subject of the delivery.
    const reply = (m as unknown as { msg?: { reply?: string } }).msg?.reply;
    if (!reply) return;
    try {
      await retryDuringElection(() => this.race.run(() => this.nc.request(reply, new TextEncoder().encode("+ACK"), { timeout: 2000 })), { withinMs: 15_000, stopped: () => this.stopping || this.nc.isClosed() });
    } catch (err) {
      this.log.warn({ err: (err as Error).message, seq: m.seq }, "ack not confirmed; the redelivery will be refused at claim time");
    }
  }
}

/**
 * A pull nats.js gave up because two of its idle heartbeats did not come in time (its JetStreamError says
 * only that: there is no code to read). On a busy host the heartbeats are often in the socket already: the
 * check runs on a timer, and timers run before the event loop reads its sockets.
 */
interface PullSent {
  atMs: number;
  inMsgs: number;
}

/**
 * What a failed pull's warning adds: how long the pull was open (`pullOpenMs`) and how many messages reached
 * this NATS connection meanwhile (`inMsgsWhileOpen`: the agent's other subscriptions, control, the other
 * consumer's pull). Messages in while no heartbeat of this pull came say the connection was read, and this
 * pull's heartbeats were not sent or not sent in time; none say nothing was read at all.
 */
function pullFailureFacts(pulled: PullSent | null, nc: NatsConnection): { pullOpenMs?: number; inMsgsWhileOpen?: number } {
  if (pulled === null) return {};
  return { pullOpenMs: Math.round(performance.now() - pulled.atMs), inMsgsWhileOpen: nc.stats().inMsgs - pulled.inMsgs };
}

function missedHeartbeats(err: unknown): boolean {
  return err instanceof JetStreamError && err.message === "heartbeats missed";
}
