/** Retry and liveness rules, compiled once from the coordinator config. */
export interface FarmPolicy {
  /** A chunk that failed on this many different agents is marked failed (poison chunk). */
  maxAgentsPerChunk: number;
  /** A chunk that failed this many times in total is marked failed. */
  maxFailuresPerChunk: number;
  /** Agent heartbeat period, ms. */
  heartbeatMs: number;
  /** An agent silent for this long is offline and its running attempts are lost. */
  agentTimeoutMs: number;
  /** JetStream ack wait, seconds (agents send in-progress acks at a third of it). */
  ackWaitSeconds: number;
  /** JetStream deliveries of one work message; one that reaches it is deleted and its chunk re-dispatched (coordinator/nats/dead-letter-watch.ts). */
  maxDeliveries: number;
  /** Most chunk messages waiting in the queue per online agent (keeps priorities meaningful). */
  queueDepthPerAgent: number;
  /** An agent that failed this many different chunks of one job is blocklisted for that job. */
  blocklistAfter: number;
}

export const DEFAULT_FARM_POLICY: FarmPolicy = {
  maxAgentsPerChunk: 3,
  maxFailuresPerChunk: 5,
  heartbeatMs: 1000,
  agentTimeoutMs: 4000,
  ackWaitSeconds: 30,
  maxDeliveries: 50,
  queueDepthPerAgent: 2,
  blocklistAfter: 3,
};
