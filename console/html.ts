// HTML built from tagged templates: every interpolated value is escaped unless it is already Html
// (made by this module), so text from the cloud (reasons, log lines, names) can never become markup.

/** Markup that is safe to insert as is: only `html`, `raw` and `join` make it. */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
};

/** Text as HTML: safe in element content and in quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => ESCAPES[c]!);
}

export type Value = Html | string | number | boolean | null | undefined | readonly Value[];

function piece(value: Value): string {
  if (value === null || value === undefined || value === false || value === true) return '';
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return value.map(piece).join('');
  return escapeHtml(String(value));
}

/** `html\`<p>${text}</p>\``: text escaped, Html kept, arrays joined, null/undefined/booleans dropped. */
export function html(strings: TemplateStringsArray, ...values: Value[]): Html {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += piece(values[i]!) + strings[i + 1]!;
  return new Html(out);
}

/** Markup written by this program itself, never from outside. */
export function raw(text: string): Html {
  return new Html(text);
}

/** A URL for an href: only relative paths and http(s) URLs; anything else (javascript:) is dropped. */
export function safeHref(url: string): string {
  if (url.startsWith('/') && !url.startsWith('//')) return url;
  try {
    const u = new URL(url);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : '#';
  } catch {
    return '#';
  }
}
