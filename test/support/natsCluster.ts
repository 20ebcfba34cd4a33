// The tests' NATS cluster is the one `npm run cluster` starts (src/cluster/localNats.ts).
export * from '../../src/cluster/localNats.ts';
