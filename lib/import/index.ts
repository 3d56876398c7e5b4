export {
  importSubscribersFromFile,
  type ImportOptions,
  type ImportProgress,
  type ImportSummary,
} from './import';
export type { ImportRow } from './store';
export { ImportFileError } from './errors';
export { checkEmail, stripInvisible, type EmailCheck } from '../email';
export { cleanName } from './email';
export { mapColumns, normaliseHeader, type ColumnMap } from './columns';
export { sniffDelimiter, type Delimiter } from './sniff';
export { formatSummary, progressBar, progressLine } from './format';
