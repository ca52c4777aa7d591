import { Server, type ServerCredentials } from "@grpc/grpc-js";
import { listen, type FrontedTls } from "../grpc/grpc-server.ts";
import { EnrollmentService as EnrollmentDefinition, type EnrollmentServer } from "../../proto/gen/nightshift/v1/enrollment.ts";
import { GRPC_SERVER_OPTIONS } from "../../shared/grpc-options.ts";

/**
 * The enrollment listener: its own port, server-only TLS (agents have no
 * certificate yet) behind the same TLS front as the gRPC port, and nothing
 * but the Enrollment service on it.
 */
export async function startEnrollmentServer(
  host: string,
  port: number,
  handler: EnrollmentServer,
  credentials: ServerCredentials | FrontedTls,
): Promise<{ server: Server; port: number }> {
  const server = new Server({ ...GRPC_SERVER_OPTIONS, "grpc.max_receive_message_length": 64 * 1024 });
  server.addService(EnrollmentDefinition, handler);
  return { server, port: await listen(server, host, port, credentials) };
}
