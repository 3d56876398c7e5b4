import type { LocalStack } from './stack';

/** `npm start -- --demo`: filled in as import and send land. */
export async function runDemo(opts: { rootDir: string; stack: LocalStack }): Promise<void> {
  console.log(`demo: the local stack is ready at ${opts.stack.apiUrl}`);
}
