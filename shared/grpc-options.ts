/**
 * Channel and server options both sides use: frames up to 64 MiB, keepalive to
 * notice dead peers, and reconnect backoff capped at 5 s (grpc-js defaults to
 * 120 s): on a studio LAN a restarted coordinator or a re-plugged cable should
 * be noticed within seconds, and a handful of agents retrying costs nothing.
 */
export const MAX_GRPC_MESSAGE_BYTES = 64 * 1024 * 1024;

export const GRPC_CHANNEL_OPTIONS = {
  "grpc.max_send_message_length": MAX_GRPC_MESSAGE_BYTES,
  "grpc.max_receive_message_length": MAX_GRPC_MESSAGE_BYTES,
  "grpc.keepalive_time_ms": 10_000,
  "grpc.keepalive_timeout_ms": 5_000,
  "grpc.keepalive_permit_without_calls": 1,
  "grpc.initial_reconnect_backoff_ms": 500,
  "grpc.max_reconnect_backoff_ms": 5_000,
};

/**
 * channelz off on the server: nothing reads grpc-js's channelz, and with it on every call pays for it (a
 * tracker with four closures per call, Date.now() per message each way, per-call counters); see
 * bench/grpc-call-cost.bench.ts.
 */
export const GRPC_SERVER_OPTIONS = {
  "grpc.enable_channelz": 0,
  // The server pings too: an agent keeps its claim and upload streams open while it runs, and a dead agent's
  // connection (power cut, cable pulled: no FIN) would otherwise hold them until TCP gives up, and hold the
  // coordinator's graceful stop for its whole grace. Unanswered within 10 s + 5 s, the connection is closed.
  "grpc.keepalive_time_ms": 10_000,
  "grpc.keepalive_timeout_ms": 5_000,
  "grpc.max_send_message_length": MAX_GRPC_MESSAGE_BYTES,
  "grpc.max_receive_message_length": MAX_GRPC_MESSAGE_BYTES,
  "grpc.keepalive_permit_without_calls": 1,
  "grpc.http2.min_ping_interval_without_data_ms": 5_000,
};
