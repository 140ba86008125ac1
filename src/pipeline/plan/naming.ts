// Naming rules for track event names: a case style or a regular expression. A plan tests each distinct name
// once and remembers the answer (up to a bound), so a rule costs a map lookup per event, and a slow pattern
// (the admin's regular expression) runs once per name, not once per event.
import type { CaseStyle } from './format.ts';

const STYLES: Record<CaseStyle, RegExp> = {
  'Title Case': /^[A-Z0-9][A-Za-z0-9]*( [A-Z0-9][A-Za-z0-9]*)*$/,
  'Sentence case': /^[A-Z0-9][a-z0-9]*( [a-z0-9]+)*$/,
  'lower case': /^[a-z0-9]+( [a-z0-9]+)*$/,
  snake_case: /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/,
  camelCase: /^[a-z][a-zA-Z0-9]*$/,
  PascalCase: /^[A-Z][a-zA-Z0-9]*$/,
  'kebab-case': /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/,
};

/** Names whose verdict is remembered; past it the map is cleared (names made of ids would grow it forever). */
const REMEMBERED = 10_000;

export class NamingRule {
  private readonly style: RegExp | null;
  private readonly pattern: RegExp | null;
  private readonly verdicts = new Map<string, string | null>();

  constructor(rule: { case?: CaseStyle; pattern?: string }) {
    this.style = rule.case ? STYLES[rule.case] : null;
    this.pattern = rule.pattern !== undefined ? new RegExp(rule.pattern, 'u') : null;
    this.describe = [rule.case, rule.pattern !== undefined ? `/${rule.pattern}/` : undefined]
      .filter(Boolean)
      .join(' and ');
  }

  /** The rule in words, for messages. */
  readonly describe: string;

  /** Null when `name` follows the rule, else what it fails (`Title Case`, `/^[a-z]+$/`). */
  check(name: string): string | null {
    const known = this.verdicts.get(name);
    if (known !== undefined) return known;
    let failed: string | null = null;
    if (this.style && !this.style.test(name)) failed = this.describe;
    else if (this.pattern && !this.pattern.test(name)) failed = this.describe;
    if (this.verdicts.size >= REMEMBERED) this.verdicts.clear();
    this.verdicts.set(name, failed);
    return failed;
  }
}
