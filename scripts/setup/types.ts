/** One line of a setup helper's report: what exists, what was (or would be) changed, what needs a human. */
export interface SetupStep {
  kind: 'ok' | 'create' | 'update' | 'warning' | 'problem';
  /** True when the change was made; false in a dry run (and for ok/warning/problem). */
  applied: boolean;
  message: string;
}
