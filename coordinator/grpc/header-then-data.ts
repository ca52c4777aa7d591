import type { ServerReadableStream, sendUnaryData } from "@grpc/grpc-js";
import { BadInputError } from "../../shared/errors.ts";
import { messagesOf } from "./client-stream-messages.ts";
import { toServiceError } from "./grpc-errors.ts";

/**
 * The shape of every upload on the Control service (a model, a scene's
 * files): one header message, then the bytes message by message, so a slow
 * disk holds back the client instead of filling memory. `handle` gets the
 * header and the bytes as they arrive; its answer (or error) is the reply.
 */

type HeaderOrData<H> = { body?: { $case: "header"; value: H } | { $case: "data"; value: Buffer } | undefined };

export function headerThenData<H, Msg extends HeaderOrData<H>, Res>(
  rpc: string,
  handle: (header: H, data: AsyncIterable<Uint8Array>) => Promise<Res>,
): (call: ServerReadableStream<Msg, Res>, callback: sendUnaryData<Res>) => void {
  return (call, callback) => {
    const messages = messagesOf<Msg>(call)[Symbol.asyncIterator]();
    const run = async (): Promise<Res> => {
      const first = await messages.next();
      const body = first.done ? undefined : first.value.body;
      if (body?.$case !== "header") throw new BadInputError(`${rpc} must start with a header`, { field: "header" });
      async function* data(): AsyncIterable<Uint8Array> {
        for (let m = await messages.next(); !m.done; m = await messages.next()) {
          if (m.value.body?.$case !== "data") throw new BadInputError(`${rpc}: a second header`, { field: "header" });
          yield m.value.body.value;
        }
      }
      return handle(body.value, data());
    };
    run()
      .then((res) => callback(null, res))
      .catch((err: unknown) => callback(toServiceError(err)));
  };
}
