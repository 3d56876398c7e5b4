/**
 * The Notion properties the executor reads and writes: the list `npm run setup:notion` creates
 * or checks the databases against. The write-back takes its status names from here; the reader
 * (lib/notion/read.ts) and the write-back name the properties in their own code, by these names.
 *
 * Status is a `select` (the Notion API cannot create `status` options); a `status`
 * property of the same name is read and written as well.
 */
export type NotionPropertyType = 'title' | 'rich_text' | 'checkbox' | 'select' | 'number' | 'date' | 'url';

export interface PropertySpec {
  name: string;
  type: NotionPropertyType;
  /** Read by the executor (content, mode) or written by it (outcome). */
  role: 'read' | 'write';
  /** select options, in order. */
  options?: string[];
  description: string;
}

/** Statuses the executor writes on a mailout page. */
export const MAILOUT_STATUS = {
  sending: 'Sending',
  sent: 'Sent',
  paused: 'Paused',
  failed: 'Failed',
} as const;

export const MAILOUT_PROPERTIES: PropertySpec[] = [
  { name: 'Name', type: 'title', role: 'read', description: 'The page title; the subject unless Subject is set.' },
  { name: 'Subject', type: 'rich_text', role: 'read', description: 'Email subject (optional; the title otherwise).' },
  { name: 'Preheader', type: 'rich_text', role: 'read', description: 'Preview text shown after the subject in the inbox.' },
  { name: 'Test', type: 'checkbox', role: 'read', description: 'Checked: send to TEST_EMAILS only.' },
  {
    name: 'Status',
    type: 'select',
    role: 'write',
    options: ['Draft', 'Ready', MAILOUT_STATUS.sending, MAILOUT_STATUS.sent, MAILOUT_STATUS.paused, MAILOUT_STATUS.failed],
    description: 'Where the mailout stands.',
  },
  { name: 'Sent at', type: 'date', role: 'write', description: 'When the last recipient was sent.' },
  { name: 'Recipients', type: 'number', role: 'write', description: 'Active subscribers at the claim.' },
  { name: 'Sent', type: 'number', role: 'write', description: 'Accepted by SES.' },
  { name: 'Failed', type: 'number', role: 'write', description: 'Refused by SES (see Errors).' },
  { name: 'Skipped', type: 'number', role: 'write', description: 'Left the list after the claim.' },
  { name: 'Unknown', type: 'number', role: 'write', description: 'In flight when an invocation died; never retried.' },
  { name: 'Delivered', type: 'number', role: 'write', description: 'SES delivery notifications.' },
  { name: 'Bounced', type: 'number', role: 'write', description: 'Hard bounces.' },
  { name: 'Complaints', type: 'number', role: 'write', description: 'Spam complaints.' },
  { name: 'Report', type: 'url', role: 'write', description: 'Signed link to the per-recipient CSV.' },
  { name: 'Last error', type: 'rich_text', role: 'write', description: 'Why the mailout paused or failed; duplicate webhooks.' },
];

export const ERROR_PROPERTIES: PropertySpec[] = [
  { name: 'Email', type: 'title', role: 'write', description: 'The recipient.' },
  { name: 'Mailout', type: 'rich_text', role: 'write', description: 'The mailout id (Notion page id).' },
  { name: 'Code', type: 'rich_text', role: 'write', description: 'SES error code.' },
  { name: 'Message', type: 'rich_text', role: 'write', description: 'SES error message.' },
  { name: 'At', type: 'date', role: 'write', description: 'When it happened.' },
];
