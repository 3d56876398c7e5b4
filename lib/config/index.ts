export * from './load';
export { env } from './env';
export { requireFeature, type Feature } from './features';
export type { DbConfig } from './database';
export type { Env } from './variables';
