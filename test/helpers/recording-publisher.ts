import type { WorkPublisher } from "../../coordinator/dispatch/dispatcher.ts";
import type { WorkMessage } from "../../shared/protocol/messages.ts";

/** Records publishes (with a sequence from 100) and retractions, as JetStream would see them. */
export function recordingPublisher(): WorkPublisher & { sent: Array<{ msg: WorkMessage; agentId: string | undefined; seq: number }>; retracted: number[] } {
  const sent: Array<{ msg: WorkMessage; agentId: string | undefined; seq: number }> = [];
  const retracted: number[] = [];
  return {
    sent,
    retracted,
    publish: async (msg, agentId) => {
      sent.push({ msg, agentId, seq: 100 + sent.length });
      return 100 + sent.length - 1;
    },
    retract: async (seq) => void retracted.push(seq),
  };
}
