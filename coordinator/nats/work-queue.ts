import type { NatsConnection } from "@nats-io/nats-core";
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { WorkMessageSchema, decodeJson, encodeJson, type WorkMessage } from "../../shared/protocol/messages.ts";
import { POOL_CONSUMER, WORK_STREAM, agentConsumerName, subjects, type Subjects } from "../../shared/protocol/subjects.ts";
import { retryDuringElection, type ElectionRetry } from "../../shared/nats/retry-during-election.ts";
import { ReconnectRace } from "../../shared/nats/reconnect-race.ts";

export interface WorkQueueOptions {
  prefix?: string;
  /** Seconds before JetStream redelivers an un-acked message. Agents send in-progress acks meanwhile. */
  ackWaitSeconds: number;
  /** Upper bound on deliveries of one message (crash loops); the coordinator's own retry count is separate. */
  maxDeliver: number;
  /** JetStream replicas of the stream and its consumers: 1 on one server, 3 on a cluster (survives one node's loss). */
  replicas?: number;
  /** Retry of publishes and API calls through a leader election (shared/nats/retry-during-election.ts). */
  retry?: ElectionRetry;
  /**
   * Servers the connection may go to (a cluster's nodes): with more than one, a node whose JetStream does not
   * answer yet is left for another (leaveUnreadyNode). `onLeft` is told (for the log).
   */
  servers?: { count: number; onLeft?: (err: Error) => void };
}

/**
 * How long each JetStream call of ensure() waits for its answer, ms (nats.js: 5 s); one not answered is made
 * again (every call there is safe to repeat: a create with the same config is answered as a create). In the
 * NATS-cluster soak a coordinator restarted just after a node's kill waited the whole 5 s for a first call that
 * got no answer, and the retry was answered at once (seventeenth round); an answer takes milliseconds.
 */
export const ENSURE_API_TIMEOUT_MS = 1_500;

/** Least time between two moves off a node whose JetStream does not answer, ms: the next one may be catching up too. */
export const LEAVE_NODE_EVERY_MS = 2_000;

/**
 * "jetstream is not enabled": nats.js's word for a JetStream call nobody on this node answered (no responders).
 * A cluster node just back says so until it has caught up with the others.
 */
function jetStreamUnanswered(err: Error): boolean {
  return err.name === "JetStreamNotEnabled" || /jetstream is not enabled/i.test(err.message);
}

const nanos = (seconds: number): number => Math.round(seconds * 1e9);

/**
 * The JetStream side of dispatch: a work-queue stream for chunk messages, a
 * shared pull consumer that every agent pulls from, and per-agent consumers for
 * placed work. Publishing uses the dispatch id as the message id, so a retried
 * publish is deduplicated by the server: publishes and API calls are retried
 * through a cluster's leader election.
 */
export class WorkQueue {
  readonly subjects: Subjects;
  private readonly js: JetStreamClient;
  /** A call in flight when the connection drops is sent again once it is back, not waited on for its timeout. */
  private readonly race: ReconnectRace;

  constructor(
    private readonly nc: NatsConnection,
    private readonly opts: WorkQueueOptions,
  ) {
    this.subjects = subjects(opts.prefix);
    this.js = jetstream(nc);
    this.race = new ReconnectRace(nc);
  }

  private get replicas(): number {
    return this.opts.replicas ?? 1;
  }

  private retried<T>(call: () => Promise<T>): Promise<T> {
    return retryDuringElection(() => this.race.run(call), {
      ...this.opts.retry,
      onRetry: (attempt, err) => {
        this.opts.retry?.onRetry?.(attempt, err);
        this.leaveUnreadyNode(err);
      },
    });
  }

  /** When the connection last left a node (leaveUnreadyNode), ms since the epoch. */
  private leftAt = 0;

  /**
   * A cluster node just back (killed and restarted) answers no JetStream call until it has caught up: in the
   * NATS-cluster soak a coordinator restarted onto such a node waited 3-4 s of "jetstream is not enabled" in its
   * start-up (the seventeenth round). With other nodes to go to, the connection leaves it: nats.js's reconnect
   * goes to the next server of its list, and the calls in flight are made again there (reconnect-race.ts). At
   * most once per LEAVE_NODE_EVERY_MS.
   */
  private leaveUnreadyNode(err: Error): void {
    const servers = this.opts.servers;
    if (!servers || servers.count < 2 || !jetStreamUnanswered(err)) return;
    const now = Date.now();
    if (now - this.leftAt < LEAVE_NODE_EVERY_MS) return;
    this.leftAt = now;
    servers.onLeft?.(err);
    void this.nc.reconnect().catch(() => undefined);
  }

  async ensure(): Promise<void> {
    await this.retried(() => this.ensureNow());
  }

  private async ensureNow(): Promise<void> {
    const jsm = await this.manager(ENSURE_API_TIMEOUT_MS);
    const config = {
      name: WORK_STREAM,
      subjects: [this.subjects.workAll],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      duplicate_window: nanos(120),
      num_replicas: this.replicas,
    };
    // Created, or found with this config (the server answers a create of an existing stream with the same config
    // as a create), or else brought to it. Not asked for first: on a cluster the stream's info comes from its
    // leader, and a coordinator restarted while that leader was being elected waited 5 s (nats.js's timeout) for
    // an info that never came, where the create, answered by the cluster's meta leader, came at once (the
    // NATS-cluster soak, seventeenth round).
    try {
      await jsm.streams.add(config);
    } catch (err) {
      if (!/already in use/i.test((err as Error).message)) throw err;
      await jsm.streams.update(WORK_STREAM, config);
    }
    await this.ensureConsumer(POOL_CONSUMER, this.subjects.workPool, jsm);
  }

  async ensureAgentConsumer(agentId: string): Promise<void> {
    await this.retried(() => this.ensureConsumer(agentConsumerName(agentId), this.subjects.workAgent(agentId)));
  }

  /** Creates the durable consumer, or brings an existing one (an earlier run's) to this run's ack wait and delivery limit. */
  private async ensureConsumer(name: string, filter: string, manager?: JetStreamManager): Promise<void> {
    const jsm = manager ?? (await this.manager());
    const limits = { ack_wait: nanos(this.opts.ackWaitSeconds), max_deliver: this.opts.maxDeliver, max_ack_pending: 10_000 };
    const existing = await jsm.consumers.info(WORK_STREAM, name).catch(() => null);
    if (existing) {
      const c = existing.config;
      if (c.ack_wait !== limits.ack_wait || c.max_deliver !== limits.max_deliver || c.max_ack_pending !== limits.max_ack_pending) {
        await jsm.consumers.update(WORK_STREAM, name, limits);
      }
      return;
    }
    await jsm.consumers.add(WORK_STREAM, {
      durable_name: name,
      filter_subject: filter,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      num_replicas: this.replicas,
      ...limits,
    });
  }

  /** Chunk messages published (each acked by the stream); tests and benches compare it with the chunks run. */
  published = 0;

  /** Publishes one chunk message, to the pool or to one agent; resolves with its stream sequence. */
  async publish(msg: WorkMessage, agentId?: string): Promise<number> {
    const subject = agentId ? this.subjects.workAgent(agentId) : this.subjects.workPool;
    const data = encodeJson(msg);
    const seq = (await this.retried(() => this.js.publish(subject, data, { msgID: msg.dispatchId }))).seq;
    this.published++;
    return seq;
  }

  /**
   * Removes a message the coordinator took back (its chunk was re-cut or
   * re-placed), so that no agent pulls and claims it for nothing. Gone
   * already (taken and acked) is fine.
   */
  async retract(seq: number): Promise<void> {
    try {
      const jsm = await this.manager();
      await jsm.streams.deleteMessage(WORK_STREAM, seq, false);
    } catch {
      // Gone already, or NATS is down right now: a stale message is skipped at claim time anyway.
    }
  }

  /**
   * Removes every message from the work stream (a restart, after recover-after-restart.ts has put every queued chunk
   * back to pending with no dispatch id: each message is stale then, and would be refused at claim). Why: after a
   * restart the coordinator knows none of their sequences to retract, and an agent's own subject delivers in order,
   * so a lost chunk placed there again waited behind its stale copies, each a pull and a refused claim, and lost the
   * race with the pool's next chunk (tenth round's soak: placed 22.69 s after a link cut, behind two stale copies,
   * delivered 15.7 s later). A message an agent holds already is acked or refused as before: nats-server confirms
   * the ack of a purged message at once, and a claim checks the dispatch id.
   */
  async purge(): Promise<void> {
    await this.retried(async () => void (await (await this.manager()).streams.purge(WORK_STREAM)));
  }

  /**
   * Reads and deletes the message at `seq` (one JetStream stopped delivering);
   * null when it is gone already. Throws when it is not a work message.
   */
  async take(seq: number): Promise<WorkMessage | null> {
    const jsm = await this.manager();
    const stored = await jsm.streams.getMessage(WORK_STREAM, { seq }).catch(() => null);
    if (!stored) return null;
    const work = decodeJson(WorkMessageSchema, stored.data);
    await this.retract(seq);
    return work;
  }

  /** A JetStream manager without the account-info round trip on each use (the stream was checked in ensure()). */
  private manager(timeout?: number): Promise<JetStreamManager> {
    return jetstreamManager(this.nc, { checkAPI: false, ...(timeout !== undefined && { timeout }) });
  }
}
