import { databaseVariables } from './database';
import type { Values } from './env';
import { letterVariables } from './letter';
import { linkVariables } from './links';
import { loggingVariables } from './logging';
import { notionVariables } from './notion';
import { sendingVariables } from './sending';
import { sesVariables } from './ses';
import { snsVariables } from './sns';

/** Every environment variable the deployment reads, each section's table of them in one. */
export const allVariables = {
  ...linkVariables,
  ...loggingVariables,
  ...databaseVariables,
  ...sesVariables,
  ...notionVariables,
  ...sendingVariables,
  ...snsVariables,
  ...letterVariables,
};

export type Env = Values<typeof allVariables>;

/** A variable's name. */
export type Variable = keyof Env;
