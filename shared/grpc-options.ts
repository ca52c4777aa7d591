/** Channel and server options both sides use: frames up to 64 MiB, keepalive to notice dead peers. */
export const MAX_GRPC_MESSAGE_BYTES = 64 * 1024 * 1024;

export const GRPC_CHANNEL_OPTIONS = {
  "grpc.max_send_message_length": MAX_GRPC_MESSAGE_BYTES,
  "grpc.max_receive_message_length": MAX_GRPC_MESSAGE_BYTES,
  "grpc.keepalive_time_ms": 10_000,
  "grpc.keepalive_timeout_ms": 5_000,
  "grpc.keepalive_permit_without_calls": 1,
};

export const GRPC_SERVER_OPTIONS = {
  "grpc.max_send_message_length": MAX_GRPC_MESSAGE_BYTES,
  "grpc.max_receive_message_length": MAX_GRPC_MESSAGE_BYTES,
  "grpc.keepalive_permit_without_calls": 1,
  "grpc.http2.min_ping_interval_without_data_ms": 5_000,
};
