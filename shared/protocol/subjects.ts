/**
 * NATS subjects and JetStream names, in one place. Everything below the farm's
 * prefix ("ns" by default):
 *   <p>.work.pool             chunk work any eligible agent may take (work-queue stream)
 *   <p>.work.agent.<agentId>  chunk work placed on one agent
 *   <p>.hb.<agentId>          agent heartbeats (core NATS, not stored)
 *   <p>.telemetry.<agentId>   agent telemetry samples
 *   <p>.ctl.<agentId>         coordinator -> agent control (drain, cancel attempt)
 */
export const DEFAULT_PREFIX = "ns";
export const WORK_STREAM = "NS_WORK";
export const POOL_CONSUMER = "pool";

export interface Subjects {
  prefix: string;
  workAll: string;
  workPool: string;
  workAgent(agentId: string): string;
  heartbeat(agentId: string): string;
  heartbeatAll: string;
  telemetry(agentId: string): string;
  telemetryAll: string;
  control(agentId: string): string;
}

export function subjects(prefix: string = DEFAULT_PREFIX): Subjects {
  return {
    prefix,
    workAll: `${prefix}.work.>`,
    workPool: `${prefix}.work.pool`,
    workAgent: (id) => `${prefix}.work.agent.${id}`,
    heartbeat: (id) => `${prefix}.hb.${id}`,
    heartbeatAll: `${prefix}.hb.*`,
    telemetry: (id) => `${prefix}.telemetry.${id}`,
    telemetryAll: `${prefix}.telemetry.*`,
    control: (id) => `${prefix}.ctl.${id}`,
  };
}

export function agentConsumerName(agentId: string): string {
  return `agent-${agentId}`;
}

/** Inbox prefix an agent connects with (`inboxPrefix`): its NATS user may subscribe only below it. */
export function agentInboxPrefix(agentId: string): string {
  return `_INBOX_${agentId}`;
}
