// Cloud Monitoring's filter language for time series (projects.timeSeries.list `filter`):
// selectors `project`, `metric.type`, `metric.labels.KEY`, `resource.type`,
// `resource.labels.KEY` (`label` works as `labels`), compared with `=` or `!=` against a string
// or one of `starts_with("…")`, `ends_with("…")`, `has_substring("…")`, `one_of("…", …)`;
// joined with AND (or nothing between), OR and NOT, and grouped with parentheses. As in Google's
// filter grammar (AIP-160), OR binds tighter than AND: `a AND b OR c` is `a AND (b OR c)`.
// `monitoring.regex.full_match` is valid but not evaluated here (a backtracking regex on
// caller input could hang the server): 501. Anything malformed is INVALID_ARGUMENT.
import { invalidArgument, RunwayError } from '../../services/shared/errors.ts';

/** Local guards against hostile filters; Google documents no figure for either. */
export const MAX_FILTER_LENGTH = 16_384;
const MAX_DEPTH = 32;

export type Labels = Record<string, string>;

/** What a time series offers the filter. */
export interface Subject {
  project: string;
  metricType: string;
  resourceType: string;
  metric: Labels;
  resource: Labels;
}

type Match =
  | { kind: 'equals'; value: string }
  | { kind: 'starts_with' | 'ends_with' | 'has_substring'; value: string }
  | { kind: 'one_of'; values: string[] };

type Node =
  | { kind: 'and' | 'or'; terms: Node[] }
  | { kind: 'not'; term: Node }
  | { kind: 'compare'; selector: string; negated: boolean; match: Match };

export interface Filter {
  /** The one metric type the filter names (Monitoring requires exactly one). */
  metricType: string;
  /** The value a top-level `selector = "value"` term pins, if there is one. */
  get(selector: string): string | undefined;
  matches(subject: Subject): boolean;
}

/** `Field filter had an invalid value of "…": why` — Monitoring's wording for a bad field. */
function badFilter(text: string, why: string) {
  const shown = text.length > 200 ? `${text.slice(0, 200)}…` : text;
  return invalidArgument(`Field filter had an invalid value of ${JSON.stringify(shown)}: ${why}`, [
    { field: 'filter', description: why },
  ]);
}

type Token =
  | { t: 'word'; v: string; at: number }
  | { t: 'string'; v: string; at: number }
  | { t: 'op'; v: '=' | '!=' | '(' | ')' | ',' | '<' | '>' | '<=' | '>=' | ':'; at: number };

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const at = i;
    if (c === '"' || c === "'") {
      let v = '';
      i++;
      for (;;) {
        if (i >= text.length) throw badFilter(text, `unterminated string starting at ${at}`);
        const d = text[i]!;
        if (d === c) break;
        if (d === '\\') {
          const e = text[i + 1];
          if (e === undefined) throw badFilter(text, `unterminated string starting at ${at}`);
          v += e;
          i += 2;
          continue;
        }
        v += d;
        i++;
      }
      i++;
      out.push({ t: 'string', v, at });
      continue;
    }
    const two = text.slice(i, i + 2);
    if (two === '!=' || two === '<=' || two === '>=') {
      out.push({ t: 'op', v: two, at });
      i += 2;
      continue;
    }
    if ('=()<>,:'.includes(c)) {
      out.push({ t: 'op', v: c as '=', at });
      i++;
      continue;
    }
    const m = /^[A-Za-z_][A-Za-z0-9_.\-/]*/.exec(text.slice(i, i + 512));
    if (!m) throw badFilter(text, `unexpected character ${JSON.stringify(c)} at ${at}`);
    out.push({ t: 'word', v: m[0], at });
    i += m[0].length;
  }
  return out;
}

const MUST_NAME_METRIC = 'The filter must specify a single metric type with metric.type = "…".';
const FUNCTIONS = new Set(['starts_with', 'ends_with', 'has_substring', 'one_of']);
const SELECTOR =
  /^(project|metric\.type|resource\.type|(metric|resource)\.labels?\.[A-Za-z0-9_]+)$/;

class Parser {
  #i = 0;
  constructor(
    readonly text: string,
    readonly tokens: Token[],
  ) {}

  parse(): Node {
    if (this.tokens.length === 0) throw badFilter(this.text, MUST_NAME_METRIC);
    const node = this.and(0);
    const rest = this.tokens[this.#i];
    if (rest) throw badFilter(this.text, `unexpected ${JSON.stringify(rest.v)} at ${rest.at}`);
    return node;
  }

  #peek = () => this.tokens[this.#i];
  #isWord = (v: string) => {
    const t = this.#peek();
    return t?.t === 'word' && t.v === v;
  };

  /** AND, spelled out or implied by juxtaposition, binds loosest. */
  and(depth: number): Node {
    const terms = [this.or(depth)];
    for (;;) {
      const t = this.#peek();
      if (!t || (t.t === 'op' && t.v === ')')) break;
      if (this.#isWord('AND')) this.#i++;
      terms.push(this.or(depth));
    }
    return terms.length === 1 ? terms[0]! : { kind: 'and', terms };
  }

  or(depth: number): Node {
    const terms = [this.unary(depth)];
    while (this.#isWord('OR')) {
      this.#i++;
      terms.push(this.unary(depth));
    }
    return terms.length === 1 ? terms[0]! : { kind: 'or', terms };
  }

  unary(depth: number): Node {
    if (depth > MAX_DEPTH) {
      throw badFilter(this.text, `the filter nests deeper than ${MAX_DEPTH} levels`);
    }
    const t = this.#peek();
    if (!t) throw badFilter(this.text, 'the filter ends where a term was expected');
    if (t.t === 'word' && t.v === 'NOT') {
      this.#i++;
      return { kind: 'not', term: this.unary(depth + 1) };
    }
    if (t.t === 'op' && t.v === '(') {
      this.#i++;
      const inner = this.and(depth + 1);
      const close = this.#peek();
      if (close?.t !== 'op' || close.v !== ')') {
        throw badFilter(this.text, `missing ")" for the "(" at ${t.at}`);
      }
      this.#i++;
      return inner;
    }
    return this.compare();
  }

  compare(): Node {
    const sel = this.tokens[this.#i++]!;
    if (sel.t !== 'word' || ['AND', 'OR', 'NOT'].includes(sel.v)) {
      throw badFilter(
        this.text,
        `expected a selector at ${sel.at}, found ${JSON.stringify(sel.v)}`,
      );
    }
    if (sel.v.startsWith('monitoring.regex.') || !SELECTOR.test(sel.v)) {
      throw badFilter(this.text, `${JSON.stringify(sel.v)} is not a time series selector`);
    }
    const op = this.tokens[this.#i++];
    if (op?.t !== 'op' || !['=', '!=', '<', '>', '<=', '>=', ':'].includes(op.v)) {
      throw badFilter(this.text, `expected "=" or "!=" after ${sel.v}`);
    }
    if (op.v !== '=' && op.v !== '!=') {
      throw new RunwayError(
        'UNIMPLEMENTED',
        `filter operator ${op.v} is not evaluated by the local Cloud Monitoring (= and != are)`,
      );
    }
    return { kind: 'compare', selector: sel.v, negated: op.v === '!=', match: this.value(sel.v) };
  }

  value(selector: string): Match {
    const t = this.tokens[this.#i++];
    if (!t)
      throw badFilter(this.text, `the filter ends where the value of ${selector} was expected`);
    if (t.t === 'string') return { kind: 'equals', value: t.v };
    if (t.t === 'word' && t.v.startsWith('monitoring.regex.')) {
      throw new RunwayError(
        'UNIMPLEMENTED',
        `${t.v} is valid, but the local Cloud Monitoring does not evaluate regular expressions: use starts_with, ends_with, has_substring or one_of`,
      );
    }
    if (t.t !== 'word' || !FUNCTIONS.has(t.v)) {
      throw badFilter(this.text, `expected a quoted string or a function at ${t.at}`);
    }
    const args = this.args(t.v);
    if (t.v === 'one_of') {
      if (args.length === 0) throw badFilter(this.text, 'one_of needs at least one value');
      return { kind: 'one_of', values: args };
    }
    if (args.length !== 1) throw badFilter(this.text, `${t.v} takes exactly one string`);
    return { kind: t.v as 'starts_with', value: args[0]! };
  }

  args(fn: string): string[] {
    const open = this.tokens[this.#i++];
    if (open?.t !== 'op' || open.v !== '(') throw badFilter(this.text, `expected "(" after ${fn}`);
    const out: string[] = [];
    for (;;) {
      const t = this.tokens[this.#i++];
      if (t?.t === 'op' && t.v === ')' && out.length === 0) return out;
      if (t?.t !== 'string') throw badFilter(this.text, `${fn} takes quoted strings`);
      out.push(t.v);
      const next = this.tokens[this.#i++];
      if (next?.t === 'op' && next.v === ')') return out;
      if (next?.t !== 'op' || next.v !== ',') {
        throw badFilter(this.text, `expected "," or ")" in ${fn}(…)`);
      }
    }
  }
}

function selected(subject: Subject, selector: string): string | undefined {
  if (selector === 'project') return subject.project;
  if (selector === 'metric.type') return subject.metricType;
  if (selector === 'resource.type') return subject.resourceType;
  const [kind, , key] = selector.split('.') as ['metric' | 'resource', string, string];
  return subject[kind][key];
}

function test(match: Match, value: string): boolean {
  switch (match.kind) {
    case 'equals':
      return value === match.value;
    case 'starts_with':
      return value.startsWith(match.value);
    case 'ends_with':
      return value.endsWith(match.value);
    case 'has_substring':
      return value.includes(match.value);
    case 'one_of':
      return match.values.includes(value);
  }
}

function evaluate(node: Node, subject: Subject): boolean {
  switch (node.kind) {
    case 'and':
      return node.terms.every((t) => evaluate(t, subject));
    case 'or':
      return node.terms.some((t) => evaluate(t, subject));
    case 'not':
      return !evaluate(node.term, subject);
    case 'compare': {
      const value = selected(subject, node.selector);
      const hit = value !== undefined && test(node.match, value);
      return node.negated ? !hit : hit;
    }
  }
}

/** The `selector = "value"` terms every match must satisfy: those of the top-level AND. */
function pinned(node: Node): Map<string, string> {
  const terms = node.kind === 'and' ? node.terms : [node];
  const out = new Map<string, string>();
  for (const t of terms) {
    if (t.kind === 'compare' && !t.negated && t.match.kind === 'equals') {
      const selector = t.selector.replace(/\.label\./, '.labels.');
      const before = out.get(selector);
      if (selector === 'metric.type' && before !== undefined && before !== t.match.value) {
        out.set(selector, '');
        continue;
      }
      out.set(selector, t.match.value);
    }
  }
  return out;
}

/**
 * Parses a time series filter. Like Monitoring, it refuses a filter that does not name exactly
 * one metric type with a top-level `metric.type = "…"` term.
 */
export function parseFilter(text: string): Filter {
  if (text.length > MAX_FILTER_LENGTH) {
    throw badFilter(text, `the filter is longer than ${MAX_FILTER_LENGTH} characters`);
  }
  const root = new Parser(text, tokenize(text)).parse();
  const pins = pinned(root);
  const metricType = pins.get('metric.type');
  if (!metricType) {
    throw badFilter(text, MUST_NAME_METRIC);
  }
  return {
    metricType,
    get: (selector) => pins.get(selector.replace(/\.label\./, '.labels.')),
    matches: (subject) => evaluate(root, subject),
  };
}
