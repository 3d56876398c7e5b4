export * from './mailout';
