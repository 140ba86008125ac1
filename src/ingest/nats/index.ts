// The cluster engine's log on NATS JetStream.
export { NatsLog, type NatsLogOptions } from './nats-log.ts';
export { partitionOf } from './stream.ts';
