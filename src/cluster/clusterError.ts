// What can go wrong between a node and the cluster, as codes that clients and operators can act on.

export type ClusterErrorCode =
  /** NATS could not be reached, or JetStream did not answer, within the start-up timeout. */
  | 'NATS_UNREACHABLE'
  /** The stream exists but is not an evledger log of this format. */
  | 'STREAM_FORMAT'
  /** This node's store does not hold the stream's log (another cluster's, or written alone). */
  | 'LOG_MISMATCH'
  /** Another writer's batch took the position this node's batch was fenced on: nothing of it was stored. */
  | 'LOG_MOVED'
  /** A publish got no answer in time: the batch may or may not be in the stream. */
  | 'PUBLISH_UNKNOWN'
  /** This node is not the writer (any more): the commands were not decided here. */
  | 'NOT_WRITER'
  /** No writer answered a forwarded command in time: it may or may not have been applied. */
  | 'WRITER_UNAVAILABLE'
  /** The writer applied the commands, but this node did not apply the log that far in time. */
  | 'REPLICA_BEHIND';

export class ClusterError extends Error {
  constructor(
    readonly code: ClusterErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'ClusterError';
  }

  /** Whether the commands it failed were certainly not stored, so deciding them again is safe. */
  get notStored(): boolean {
    return this.code === 'LOG_MOVED' || this.code === 'NOT_WRITER';
  }
}
