export * from './record.js';
export * from './path.js';
