/**
 * The settings as docs/configuration.md's Markdown table
 * ({@link settingsTable}), which test/readme.ts checks the page against.
 *
 * @module
 */
import { KINDS, rangeOf } from '../../lib/config/kinds.ts';
import { SETTINGS } from '../../lib/config/settings.ts';

/**
 * The Markdown table of every setting (`| Variable | Option | Default |
 * Meaning |`), one row per entry of {@link SETTINGS}, for docs/configuration.md. Lines
 * end in `\n`; the last has none.
 */
export function settingsTable(): string {
  const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
  const rows = SETTINGS.map((s) => {
    const kind = KINDS[s.kind];
    let meaning = s.description;
    if (kind.number && s.min !== undefined) {
      const range = rangeOf(s);
      const unit = kind.number.unit ? ` (option: ${kind.number.unit})` : '';
      meaning += ` ${range[0].toUpperCase()}${range.slice(1)}${unit}.`;
    }
    return `| \`${s.env}\` | \`${s.option}\` | \`${s.default}\` | ${cell(meaning)} |`;
  });
  return ['| Variable | Option | Default | Meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}
