import { Server, type ServerCredentials } from "@grpc/grpc-js";
import { EnrollmentService as EnrollmentDefinition, type EnrollmentServer } from "../../proto/gen/nightshift/v1/enrollment.ts";
import { GRPC_SERVER_OPTIONS } from "../../shared/grpc-options.ts";

/**
 * The enrollment listener: its own port, server-only TLS (agents have no
 * certificate yet), and nothing but the Enrollment service on it.
 */
export async function startEnrollmentServer(
  host: string,
  port: number,
  handler: EnrollmentServer,
  credentials: ServerCredentials,
): Promise<{ server: Server; port: number }> {
  const server = new Server({ ...GRPC_SERVER_OPTIONS, "grpc.max_receive_message_length": 64 * 1024 });
  server.addService(EnrollmentDefinition, handler);
  const bound = await new Promise<number>((resolve, reject) => {
    const addr = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
    server.bindAsync(addr, credentials, (err, p) => (err ? reject(err) : resolve(p)));
  });
  return { server, port: bound };
}
