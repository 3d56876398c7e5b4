export * from './mailout';
export type { RenderedMailout } from '../letter';
