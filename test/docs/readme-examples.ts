// Reads the runnable examples out of README.md and compares answers with what it shows. The convention is
// described at the top of readme-examples.test.ts and in the README's Development section.

/** One example: a shell command that runs curl, or a whole ```js block. */
export interface Example {
  kind: 'sh' | 'js';
  /** 1-based line of README.md where it starts. */
  line: number;
  code: string;
  /** The answer the README shows (`# 200 {...}`), absent for js blocks. */
  expect?: { status: number; body?: string };
  /** Why the example is not run (`# not run: why` / `// not run: why`). */
  notRun?: string;
}

const NOT_RUN = /^(?:#|\/\/)\s*not run:\s*(.+)$/;
const ANSWER = /^#\s*(\d{3})(?:\s+(.*))?$/;

/** True while `text` has an open quote or bracket (outside strings), so an answer or command goes on. */
function open(text: string, brackets: boolean): boolean {
  let quote = '';
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = '';
    } else if (c === '"' || (c === "'" && !brackets)) quote = c;
    else if (c === '\\' && !brackets) i++;
    else if (brackets && (c === '{' || c === '[')) depth++;
    else if (brackets && (c === '}' || c === ']')) depth--;
  }
  return quote !== '' || depth > 0;
}

/**
 * Every example of the markdown, in order. A shell command runs on while its line ends with `\` or a quote
 * is open; it is an example when it calls curl. The line after it must be its answer (`# 200`, a status and
 * optionally the JSON body, which may go on over further `#` lines until its brackets close) or
 * `# not run: why`; anything else is an error, so every curl example says what it answers.
 */
export function extractExamples(markdown: string): Example[] {
  const lines = markdown.split('\n');
  const out: Example[] = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = /^```(\w*)\s*$/.exec(lines[i] as string);
    if (!fence) continue;
    const lang = fence[1];
    let end = i + 1;
    while (end < lines.length && !/^```\s*$/.test(lines[end] as string)) end++;
    const body = lines.slice(i + 1, end);
    if (lang === 'js') {
      const code = body.join('\n');
      const mark = body.map((l) => NOT_RUN.exec(l.trim())).find(Boolean);
      out.push({ kind: 'js', line: i + 2, code, notRun: mark?.[1] });
    } else if (lang === 'sh') {
      extractCommands(body, i + 2, out);
    }
    i = end;
  }
  return out;
}

function extractCommands(body: string[], firstLine: number, out: Example[]): void {
  for (let j = 0; j < body.length; j++) {
    const text = body[j] as string;
    if (text.trim() === '' || text.trim().startsWith('#')) continue;
    const start = j;
    let code = text;
    while ((code.endsWith('\\') || open(code, false)) && j + 1 < body.length) code += `\n${body[++j]}`;
    if (!/(^|[\s|;&(])curl\s/.test(code)) continue;
    const line = firstLine + start;
    const next = (body[j + 1] ?? '').trim();
    const notRun = NOT_RUN.exec(next);
    if (notRun) {
      out.push({ kind: 'sh', line, code, notRun: notRun[1] });
      j++;
      continue;
    }
    const answer = ANSWER.exec(next);
    if (!answer)
      throw new Error(
        `README.md:${line}: the curl example is not followed by its answer (# 200 {...}) or # not run: why`,
      );
    j++;
    let json = answer[2] ?? '';
    while (json && open(json, true) && (body[j + 1] ?? '').trim().startsWith('#')) {
      json += ` ${(body[++j] as string).trim().replace(/^#\s*/, '')}`;
    }
    out.push({ kind: 'sh', line, code, expect: { status: Number(answer[1]), body: json || undefined } });
  }
}

/** A value in an expected answer: JSON, where `...` stands for any value, more members or more items. */
export type Pattern =
  | { any: true }
  | { object: [string, Pattern][]; more: boolean }
  | { array: Pattern[]; more: boolean }
  | { value: unknown };

const ANY: Pattern = { any: true };

/** Parses the JSON of an answer, with `...` allowed as a value, an object member or the last item. */
export function parsePattern(text: string): Pattern {
  let i = 0;
  const ws = () => {
    while (/\s/.test(text[i] ?? '')) i++;
  };
  const fail = (what: string): never => {
    throw new Error(`${what} at ${i} in ${text}`);
  };
  const dots = () => {
    ws();
    if (text.startsWith('...', i)) {
      i += 3;
      return true;
    }
    return false;
  };
  const value = (): Pattern => {
    if (dots()) return ANY;
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const members: [string, Pattern][] = [];
      let more = false;
      ws();
      if (text[i] === '}') {
        i++;
        return { object: members, more };
      }
      for (;;) {
        if (dots()) more = true;
        else {
          ws();
          const key = scalar();
          if (typeof key.value !== 'string') fail('object key expected');
          ws();
          if (text[i++] !== ':') fail('":" expected');
          members.push([key.value as string, value()]);
        }
        ws();
        const sep = text[i++];
        if (sep === '}') return { object: members, more };
        if (sep !== ',') fail('"," or "}" expected');
      }
    }
    if (c === '[') {
      i++;
      const items: Pattern[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return { array: items, more: false };
      }
      for (;;) {
        if (dots()) {
          ws();
          if (text[i++] !== ']') fail('"..." must be the last item');
          return { array: items, more: true };
        }
        items.push(value());
        ws();
        const sep = text[i++];
        if (sep === ']') return { array: items, more: false };
        if (sep !== ',') fail('"," or "]" expected');
      }
    }
    return scalar();
  };
  const scalar = (): { value: unknown } => {
    ws();
    const m = /^(?:"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i));
    if (!m) return fail('JSON value expected');
    i += m[0].length;
    return { value: JSON.parse(m[0]) };
  };
  const p = value();
  ws();
  if (i !== text.length) fail('end expected');
  return p;
}

/**
 * The differences between an answer and its pattern, as `path: why` lines (none when it matches). A string
 * `"$NAME"` in the pattern is a variable: it must equal `vars[NAME]` when that is set, and sets it otherwise.
 */
export function matchPattern(p: Pattern, actual: unknown, vars: Map<string, string>, path = '$'): string[] {
  if ('any' in p) return [];
  if ('value' in p) {
    const v = p.value;
    const name = typeof v === 'string' ? /^\$([A-Z][A-Z0-9_]*)$/.exec(v)?.[1] : undefined;
    if (name) {
      if (typeof actual !== 'string' && typeof actual !== 'number')
        return [`${path}: ${JSON.stringify(actual)} for $${name}`];
      const known = vars.get(name);
      if (known === undefined) vars.set(name, String(actual));
      else if (known !== String(actual))
        return [`${path}: ${JSON.stringify(actual)}, not $${name} (${known})`];
      return [];
    }
    return Object.is(v, actual) ? [] : [`${path}: ${JSON.stringify(actual)}, not ${JSON.stringify(v)}`];
  }
  if ('array' in p) {
    if (!Array.isArray(actual)) return [`${path}: ${JSON.stringify(actual)}, not an array`];
    if (actual.length < p.array.length || (!p.more && actual.length !== p.array.length)) {
      return [`${path}: ${actual.length} items, not ${p.array.length}${p.more ? ' or more' : ''}`];
    }
    return p.array.flatMap((q, k) => matchPattern(q, actual[k], vars, `${path}[${k}]`));
  }
  if (typeof actual !== 'object' || actual === null || Array.isArray(actual)) {
    return [`${path}: ${JSON.stringify(actual)}, not an object`];
  }
  const obj = actual as Record<string, unknown>;
  const out: string[] = [];
  const shown = new Set(p.object.map(([k]) => k));
  for (const [k, q] of p.object) {
    if (!(k in obj)) out.push(`${path}.${k}: missing`);
    else out.push(...matchPattern(q, obj[k], vars, `${path}.${k}`));
  }
  if (!p.more) {
    const extra = Object.keys(obj).filter((k) => !shown.has(k));
    if (extra.length > 0)
      out.push(`${path}: also has ${extra.join(', ')} (add them, or ... for more members)`);
  }
  return out;
}
