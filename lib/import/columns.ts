import { stripInvisible } from '../email';

/**
 * Which columns of an export hold what. GetResponse's export columns are not fixed (they
 * depend on the account's language and custom fields), so columns are found by their
 * normalised header: lowercased, only letters and digits kept ("E-mail address" ->
 * "emailaddress"). Aliases are listed in order of preference; unknown columns are ignored.
 */
export interface ColumnMap {
  email: number;
  name?: number;
  firstName?: number;
  lastName?: number;
  source?: number;
  /** The header as found, for messages. */
  header: string[];
}

export const EMAIL_ALIASES = [
  'email', 'emailaddress', 'emails', 'mail', 'mailaddress', 'emailadres', 'subscriberemail', 'contactemail',
  'электроннаяпочта', 'адресэлектроннойпочты', 'почта', 'емейл', 'имейл', 'emailадрес',
];
export const NAME_ALIASES = ['name', 'fullname', 'contactname', 'subscribername', 'displayname', 'имя', 'фио', 'полноеимя'];
export const FIRST_NAME_ALIASES = ['firstname', 'givenname', 'forename', 'fname', 'first'];
export const LAST_NAME_ALIASES = ['lastname', 'surname', 'familyname', 'lname', 'last', 'фамилия'];
export const SOURCE_ALIASES = [
  'campaign', 'campaignname', 'list', 'listname', 'origin', 'source', 'кампания', 'список', 'названиесписка',
];

export function normaliseHeader(h: string): string {
  return stripInvisible(h).normalize('NFKC').toLowerCase().replace(/[^\p{L}\p{N}]+/gu, '');
}

function find(normalised: string[], aliases: string[]): number | undefined {
  for (const alias of aliases) {
    const i = normalised.indexOf(alias);
    if (i !== -1) return i;
  }
  return undefined;
}

/** The column map, or null when no column holds email addresses. */
export function mapColumns(header: string[]): ColumnMap | null {
  const normalised = header.map(normaliseHeader);
  const email = find(normalised, EMAIL_ALIASES);
  if (email === undefined) return null;
  const map: ColumnMap = { email, header };
  const name = find(normalised, NAME_ALIASES);
  const firstName = find(normalised, FIRST_NAME_ALIASES);
  const lastName = find(normalised, LAST_NAME_ALIASES);
  const source = find(normalised, SOURCE_ALIASES);
  if (name !== undefined) map.name = name;
  if (firstName !== undefined) map.firstName = firstName;
  if (lastName !== undefined) map.lastName = lastName;
  if (source !== undefined) map.source = source;
  return map;
}
