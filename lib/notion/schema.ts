/**
 * The Notion properties the executor reads and writes: the one list of roles, used by the
 * reader, the write-back, the Errors writer, `npm run setup:notion` and the doctor.
 *
 * A property is found by its role, never by the name a user sees (users rename them):
 *  1. by the marker `[mailout:<role>]` that setup writes at the end of its description
 *     (Notion keeps a property's description, and its id, through renames);
 *  2. for a database made before markers (or by hand), by the name setup gives it, in
 *     Russian or English;
 *  3. by its type, when the role is the only one of its type (the title, the Test checkbox,
 *     Status, the report link, the one date).
 * A property found matches by id between the data source and the page.
 *
 * Status is a `select` (the Notion API cannot create `status` options); a `status`
 * property plays the role as well.
 */
export type NotionPropertyType = 'title' | 'rich_text' | 'checkbox' | 'select' | 'number' | 'date' | 'url';

export type Lang = 'ru' | 'en';
export const LANGS: readonly Lang[] = ['ru', 'en'];
/** Our users are Russian-speaking publishers. */
export const DEFAULT_LANG: Lang = 'ru';

export type Localised = Record<Lang, string>;

export type MailoutRole =
  | 'title'
  | 'subject'
  | 'preheader'
  | 'test'
  | 'status'
  | 'sentAt'
  | 'recipients'
  | 'sent'
  | 'failed'
  | 'skipped'
  | 'unknown'
  | 'delivered'
  | 'bounced'
  | 'complaints'
  | 'report'
  | 'lastError';

export type ErrorRole = 'email' | 'mailout' | 'code' | 'message' | 'at';

export interface PropertySpec<R extends string = string> {
  role: R;
  type: NotionPropertyType;
  /** Read by the executor (content, mode) or written by it (outcome). */
  access: 'read' | 'write';
  names: Localised;
  description: Localised;
  /** A select's options, in order (Status). */
  options?: StatusKey[];
}

export type StatusKey = 'draft' | 'ready' | 'sending' | 'sent' | 'paused' | 'failed';

/** The Status options, in each language. */
export const STATUS_NAMES: Record<StatusKey, Localised> = {
  draft: { ru: 'Черновик', en: 'Draft' },
  ready: { ru: 'Готово', en: 'Ready' },
  sending: { ru: 'Отправляется', en: 'Sending' },
  sent: { ru: 'Отправлено', en: 'Sent' },
  paused: { ru: 'Пауза', en: 'Paused' },
  failed: { ru: 'Ошибка', en: 'Failed' },
};

export const DATABASE_TITLES: Record<'mailouts' | 'errors', Localised> = {
  mailouts: { ru: 'Письма', en: 'Mailouts' },
  errors: { ru: 'Ошибки', en: 'Errors' },
};

const spec = <R extends string>(role: R, type: NotionPropertyType, access: 'read' | 'write', names: Localised, description: Localised, options?: StatusKey[]): PropertySpec<R> => ({
  role,
  type,
  access,
  names,
  description,
  ...(options ? { options } : {}),
});

export const MAILOUT_PROPERTIES: PropertySpec<MailoutRole>[] = [
  spec('title', 'title', 'read', { ru: 'Название', en: 'Name' }, { ru: 'Заголовок страницы; тема письма, если «Тема» пуста.', en: 'The page title; the subject unless Subject is set.' }),
  spec('subject', 'rich_text', 'read', { ru: 'Тема', en: 'Subject' }, { ru: 'Тема письма (необязательно; иначе заголовок).', en: 'Email subject (optional; the title otherwise).' }),
  spec('preheader', 'rich_text', 'read', { ru: 'Прехедер', en: 'Preheader' }, { ru: 'Строка, которую почта показывает после темы.', en: 'Preview text shown after the subject in the inbox.' }),
  spec('test', 'checkbox', 'read', { ru: 'Тест', en: 'Test' }, { ru: 'Отмечено: письмо уходит только на TEST_EMAILS.', en: 'Checked: send to TEST_EMAILS only.' }),
  spec('status', 'select', 'write', { ru: 'Статус', en: 'Status' }, { ru: 'Где сейчас рассылка.', en: 'Where the mailout stands.' }, ['draft', 'ready', 'sending', 'sent', 'paused', 'failed']),
  spec('sentAt', 'date', 'write', { ru: 'Дата отправки', en: 'Sent at' }, { ru: 'Когда ушло последнее письмо.', en: 'When the last recipient was sent.' }),
  spec('recipients', 'number', 'write', { ru: 'Получатели', en: 'Recipients' }, { ru: 'Активные подписчики на момент запуска.', en: 'Active subscribers at the claim.' }),
  spec('sent', 'number', 'write', { ru: 'Отправлено', en: 'Sent' }, { ru: 'Принято SES.', en: 'Accepted by SES.' }),
  spec('failed', 'number', 'write', { ru: 'Не отправлено', en: 'Failed' }, { ru: 'Отклонено SES (см. «Ошибки»).', en: 'Refused by SES (see Errors).' }),
  spec('skipped', 'number', 'write', { ru: 'Пропущено', en: 'Skipped' }, { ru: 'Отписались после запуска.', en: 'Left the list after the claim.' }),
  spec('unknown', 'number', 'write', { ru: 'Неизвестно', en: 'Unknown' }, { ru: 'Были в пути, когда вызов оборвался; не повторяются.', en: 'In flight when an invocation died; never retried.' }),
  spec('delivered', 'number', 'write', { ru: 'Доставлено', en: 'Delivered' }, { ru: 'Уведомления SES о доставке.', en: 'SES delivery notifications.' }),
  spec('bounced', 'number', 'write', { ru: 'Отказы', en: 'Bounced' }, { ru: 'Жёсткие отказы.', en: 'Hard bounces.' }),
  spec('complaints', 'number', 'write', { ru: 'Жалобы', en: 'Complaints' }, { ru: 'Жалобы на спам.', en: 'Spam complaints.' }),
  spec('report', 'url', 'write', { ru: 'Отчёт', en: 'Report' }, { ru: 'Подписанная ссылка на CSV по каждому получателю.', en: 'Signed link to the per-recipient CSV.' }),
  spec('lastError', 'rich_text', 'write', { ru: 'Последняя ошибка', en: 'Last error' }, { ru: 'Почему рассылка на паузе или не удалась; повторные нажатия.', en: 'Why the mailout paused or failed; duplicate webhooks.' }),
];

export const ERROR_PROPERTIES: PropertySpec<ErrorRole>[] = [
  spec('email', 'title', 'write', { ru: 'Адрес', en: 'Email' }, { ru: 'Получатель.', en: 'The recipient.' }),
  spec('mailout', 'rich_text', 'write', { ru: 'Рассылка', en: 'Mailout' }, { ru: 'Id рассылки (id страницы Notion).', en: 'The mailout id (Notion page id).' }),
  spec('code', 'rich_text', 'write', { ru: 'Код', en: 'Code' }, { ru: 'Код ошибки SES.', en: 'SES error code.' }),
  spec('message', 'rich_text', 'write', { ru: 'Сообщение', en: 'Message' }, { ru: 'Сообщение SES.', en: 'SES error message.' }),
  spec('at', 'date', 'write', { ru: 'Когда', en: 'At' }, { ru: 'Когда это случилось.', en: 'When it happened.' }),
];

// ---------------------------------------------------------------------------------------
// Finding roles
// ---------------------------------------------------------------------------------------

const MARKER = /\[mailout:([A-Za-z]+)\]\s*$/;

/** The marker setup appends to a property's description: its role survives any rename. */
export function roleMarker(role: string): string {
  return `[mailout:${role}]`;
}

/** The description setup gives a property: its explanation, then its role marker. */
export function propertyDescription(s: PropertySpec, lang: Lang): string {
  return `${s.description[lang]} ${roleMarker(s.role)}`;
}

/** A property as a data source (or a page) lists it: keyed by its current name. */
export interface SchemaProperty {
  id: string;
  type: string;
  description?: string | null;
}

export interface FoundProperty {
  id: string;
  /** Its name now, as the database shows it. */
  name: string;
  type: string;
  by: 'marker' | 'name' | 'type';
}

export interface RoleReport<R extends string = string> {
  found: Partial<Record<R, FoundProperty>>;
  /** Roles no property plays, named in the database's language. */
  missing: { role: R; name: string; type: NotionPropertyType }[];
  lang: Lang;
}

function fits(s: PropertySpec, type: string): boolean {
  return type === s.type || (s.type === 'select' && type === 'status');
}

const sameName = (a: string, b: string) => a.trim().toLowerCase() === b.trim().toLowerCase();

/** The database's language: Russian when its property names are. */
export function databaseLang(properties: Record<string, unknown>): Lang {
  return Object.keys(properties).some((name) => /[А-Яа-яЁё]/.test(name)) ? 'ru' : 'en';
}

/**
 * Which role each property plays (see the top of this file), and which roles none plays.
 * `properties` is a retrieved data source's `properties` (with descriptions) or a page's.
 */
export function findRoles<R extends string>(properties: Record<string, SchemaProperty>, specs: PropertySpec<R>[]): RoleReport<R> {
  const entries = Object.entries(properties).filter(([, p]) => p && typeof p.type === 'string');
  const taken = new Set<string>();
  const found: Partial<Record<R, FoundProperty>> = {};
  const take = (s: PropertySpec<R>, [name, p]: [string, SchemaProperty], by: FoundProperty['by']) => {
    found[s.role] = { id: p.id, name, type: p.type, by };
    taken.add(name);
  };
  for (const s of specs) {
    const marked = entries.find(([name, p]) => !taken.has(name) && fits(s, p.type) && MARKER.exec(p.description ?? '')?.[1] === s.role);
    if (marked) take(s, marked, 'marker');
  }
  for (const s of specs) {
    if (found[s.role]) continue;
    const named = entries.find(([name, p]) => !taken.has(name) && fits(s, p.type) && !MARKER.test(p.description ?? '') && LANGS.some((l) => sameName(name, s.names[l])));
    if (named) take(s, named, 'name');
  }
  for (const s of specs) {
    if (found[s.role] || specs.filter((o) => o.type === s.type).length > 1) continue;
    const ofType = entries.filter(([name, p]) => !taken.has(name) && fits(s, p.type) && !MARKER.test(p.description ?? ''));
    if (ofType.length === 1) take(s, ofType[0]!, 'type');
  }
  const lang = databaseLang(properties);
  const missing = specs.filter((s) => !found[s.role]).map((s) => ({ role: s.role, name: s.names[lang], type: s.type }));
  return { found, missing, lang };
}

/**
 * For the doctor: which roles a retrieved data source's properties play and which are
 * missing (named in the database's language). `which` picks the Mailouts or Errors list.
 */
export function checkDataSourceRoles(dataSource: { properties?: Record<string, SchemaProperty> }, which: 'mailouts' | 'errors'): RoleReport {
  return findRoles(dataSource.properties ?? {}, which === 'mailouts' ? MAILOUT_PROPERTIES : ERROR_PROPERTIES);
}

/** The name of the option for `status` on a Status property: the one it has, in either language, else the database's. */
export function statusOption(status: StatusKey, options: { name: string }[] | undefined, lang: Lang): string {
  const names = STATUS_NAMES[status];
  const have = (options ?? []).find((o) => LANGS.some((l) => sameName(o.name, names[l])));
  return have?.name ?? names[lang];
}
