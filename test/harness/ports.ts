// Loopback ports for tests: the same helpers as the local stack's (lib/stack/ports.ts).
export * from '../../lib/stack/ports.js';
