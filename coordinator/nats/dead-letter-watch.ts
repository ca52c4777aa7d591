import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import { z } from "zod";
import { WORK_STREAM } from "../../shared/protocol/subjects.ts";
import type { Logger } from "../../shared/log.ts";
import type { WorkQueue } from "./work-queue.ts";

/** The advisory nats-server publishes (io.nats.jetstream.advisory.v1.max_deliver) when a message reaches a consumer's max_deliver. */
export const MAX_DELIVERIES_SUBJECT = `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${WORK_STREAM}.*`;

const MaxDeliveriesAdvisory = z.object({
  stream: z.string(),
  consumer: z.string(),
  stream_seq: z.number().int().positive(),
  deliveries: z.number().int(),
});

/**
 * Watches for work messages JetStream stopped delivering because they hit the
 * delivery limit. Such a message stays in the work-queue stream but no agent
 * will see it again, so its chunk would sit "queued" until the coordinator
 * restarts. The watch takes the message out of the queue and hands the chunk back
 * through `drop` (ClaimService.dropUndelivered), which re-dispatches it with a
 * fresh message when it is still the chunk's current one.
 */
export function watchDeadLetters(
  nc: NatsConnection,
  queue: WorkQueue,
  drop: (chunkId: string, dispatchId: string) => boolean,
  log: Logger,
): Subscription {
  return nc.subscribe(MAX_DELIVERIES_SUBJECT, {
    callback: (err, msg) => {
      if (err) return;
      void (async () => {
        const adv = MaxDeliveriesAdvisory.parse(msg.json());
        const work = await queue.take(adv.stream_seq);
        if (!work) return; // taken and acked meanwhile, or already deleted
        const requeued = drop(work.chunkId, work.dispatchId);
        log.warn({ chunkId: work.chunkId, consumer: adv.consumer, deliveries: adv.deliveries, requeued }, "work message reached its delivery limit; chunk re-dispatched");
      })().catch((e: unknown) => log.warn({ err: (e as Error).message }, "delivery-limit advisory not handled"));
    },
  });
}
