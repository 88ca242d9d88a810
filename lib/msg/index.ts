export * from './service.js';
export * from './path.js';
