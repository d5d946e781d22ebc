/**
 * Every relative link of README.md and docs/*.md leads somewhere: the file
 * (or folder) exists inside the repository, and a `#anchor` names a heading
 * of the target as GitHub renders it.
 *
 * No Markdown library is installed, so links are found by a careful reading
 * of the text: fenced code blocks and inline code spans are left out (a
 * `](...)` there is code, not a link); inline links and images
 * (`[text](target)`, `![alt](target "title")`), reference definitions
 * (`[name]: target`) and HTML `href`/`src` attributes are checked; targets
 * with a scheme (`https:`, `mailto:`) are not. Headings are ATX (`## Text`)
 * and setext (`Text` over `===` or `---`), and their anchors follow GitHub's
 * slugs (github-slugger): the heading's text as rendered (code spans keep
 * their text, links their label, emphasis markers go), lower-cased, every
 * character dropped that is not a letter, a digit, a mark, `_`, `-` or a
 * space, each space turned into `-`; a slug already taken gets `-1`, `-2`...
 */
import t from 'tap';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** A line of Markdown outside fenced code, with its number (from 1). */
interface ProseLine {
  text: string;
  number: number;
}

/** The lines outside fenced code blocks. */
export function proseLines(markdown: string): ProseLine[] {
  const lines: ProseLine[] = [];
  let fence: { char: string; length: number } | undefined;
  markdown.split('\n').forEach((text, index) => {
    const marker = /^ {0,3}(`{3,}|~{3,})/.exec(text);
    if (fence === undefined) {
      if (marker && !(marker[1][0] === '`' && text.slice(marker[0].length).includes('`'))) {
        fence = { char: marker[1][0], length: marker[1].length };
        return;
      }
      lines.push({ text, number: index + 1 });
    } else if (marker && marker[1][0] === fence.char && marker[1].length >= fence.length && text.trim() === marker[1]) {
      fence = undefined;
    }
  });
  return lines;
}

/** Replaces every inline code span with `replace(its content)`. */
function codeSpans(text: string, replace: (code: string) => string): string {
  return text.replace(/(`+)([\s\S]*?[^`])\1(?!`)/g, (_, _ticks: string, code: string) => replace(code.trim()));
}

/** The text of a heading as GitHub renders it (before making a slug). */
export function headingText(source: string): string {
  const codes: string[] = [];
  // Code spans keep their text verbatim; stash them so emphasis removal leaves them alone.
  let text = codeSpans(source, (code) => `\u0000${codes.push(code) - 1}\u0000`);
  text = text
    .replace(/!\[([^\]]*)\]\([^)]*\)/g, '$1') // images: their alt text
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1') // links: their label
    .replace(/<[^>]+>/g, '') // HTML tags
    .replace(/\*/g, '') // emphasis with asterisks
    .replace(/(^|[\s\p{P}])_+|_+(?=$|[\s\p{P}])/gu, '$1') // emphasis with underscores (not intraword)
    .replace(/\\(\p{P})/gu, '$1'); // backslash escapes
  return text.replace(/\u0000(\d+)\u0000/g, (_, index: string) => codes[Number(index)]).trim();
}

/** GitHub's slug of a heading's rendered text (github-slugger, without the duplicate count). */
export function slug(text: string): string {
  return text.toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-');
}

/** The anchors of every heading of a document, duplicates numbered as GitHub does. */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  const add = (source: string): void => {
    const base = slug(headingText(source));
    let anchor = base;
    let count = seen.get(base) ?? 0;
    while (anchors.has(anchor)) anchor = `${base}-${++count}`;
    seen.set(base, count);
    anchors.add(anchor);
  };
  const lines = proseLines(markdown);
  lines.forEach(({ text, number }, index) => {
    const atx = /^ {0,3}#{1,6}(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/.exec(text);
    if (atx) return add(atx[1] ?? '');
    const previous = lines[index - 1];
    if (/^ {0,3}(=+|-+)[ \t]*$/.test(text) && previous !== undefined && previous.number === number - 1) {
      const above = previous.text;
      const paragraph = above.trim() !== '' && !/^ {0,3}([#>|]|[-*+][ \t]|\d+[.)][ \t]|(=+|-+)[ \t]*$)/.test(above);
      const twoAbove = lines[index - 2];
      const startsParagraph = twoAbove === undefined || twoAbove.number !== number - 2 || twoAbove.text.trim() === '';
      if (paragraph && startsParagraph) add(above);
    }
  });
  return anchors;
}

/** A link found in a document. */
export interface Link {
  target: string;
  line: number;
}

/** Every link target of a document, outside code. */
export function linksOf(markdown: string): Link[] {
  const links: Link[] = [];
  for (const { text, number } of proseLines(markdown)) {
    const prose = codeSpans(text, () => '');
    const found = [
      ...[...prose.matchAll(/\]\(\s*<([^>]*)>(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)/g)].map((m) => m[1]),
      ...[...prose.matchAll(/\]\(\s*([^\s()<>]+)(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)/g)].map((m) => m[1]),
      ...[...prose.matchAll(/^ {0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?/g)].map((m) => m[1]),
      ...[...prose.matchAll(/\b(?:href|src)\s*=\s*"([^"]*)"/g)].map((m) => m[1]),
    ];
    for (const target of found) links.push({ target, line: number });
  }
  return links;
}

/** What a file system offers the checker: a file's text, or whether a path is a folder. */
export interface Files {
  read(path: string): string | undefined;
  isDirectory(path: string): boolean;
}

const disk: Files = {
  read(path) {
    try {
      return statSync(path).isFile() ? readFileSync(path, 'utf8') : undefined;
    } catch {
      return undefined;
    }
  },
  isDirectory(path) {
    try {
      return statSync(path).isDirectory();
    } catch {
      return false;
    }
  },
};

/** The broken links of one document, as `file:line: target: why`. */
export function brokenLinks(file: string, root: string, files: Files = disk): string[] {
  const markdown = files.read(file);
  if (markdown === undefined) return [`${file}: not found`];
  const base = resolve(root);
  const problems: string[] = [];
  const name = relative(base, file);
  for (const { target, line } of linksOf(markdown)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:, ...
    const where = `${name}:${line}: ${target}`;
    const hash = target.indexOf('#');
    const pathPart = hash === -1 ? target : target.slice(0, hash);
    const anchor = hash === -1 ? undefined : target.slice(hash + 1);
    let path: string;
    try {
      path = pathPart === '' ? file : resolve(dirname(file), decodeURIComponent(pathPart));
    } catch {
      problems.push(`${where}: not a valid path`);
      continue;
    }
    if (path !== base && !path.startsWith(base + sep)) {
      problems.push(`${where}: leads out of the repository`);
      continue;
    }
    const text = files.read(path);
    if (text === undefined && !files.isDirectory(path)) {
      problems.push(`${where}: no such file`);
      continue;
    }
    if (anchor === undefined) continue;
    if (text === undefined || !/\.md$/i.test(path)) {
      problems.push(`${where}: an anchor into something that is not a Markdown file`);
    } else if (!headingAnchors(text).has(decodeURIComponent(anchor))) {
      problems.push(`${where}: no heading with the anchor #${anchor} in ${relative(base, path)}`);
    }
  }
  return problems;
}

/** README.md and every Markdown file of docs/. */
function documents(): string[] {
  const docs = readdirSync(join(ROOT, 'docs')).filter((name) => name.endsWith('.md')).map((name) => join(ROOT, 'docs', name));
  return [join(ROOT, 'README.md'), ...docs.sort()];
}

t.test('every relative link of the README and docs/ resolves', async (t) => {
  const files = documents();
  t.ok(files.length >= 10, `${files.length} documents: README.md and docs/*.md`);
  let checked = 0;
  for (const file of files) {
    checked += linksOf(readFileSync(file, 'utf8')).filter(({ target }) => !/^[a-z][a-z0-9+.-]*:/i.test(target)).length;
    t.same(brokenLinks(file, ROOT), [], relative(ROOT, file));
  }
  t.ok(checked >= 50, `${checked} relative links checked`);
});

t.test('the README links every document of docs/', async (t) => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const linked = new Set(linksOf(readme).map(({ target }) => target.split('#')[0]));
  for (const file of documents().slice(1)) t.ok(linked.has(relative(ROOT, file)), relative(ROOT, file));
});

t.test('slugs as GitHub makes them', async (t) => {
  const cases: [string, string][] = [
    ['node:cluster apps: worker processes', 'nodecluster-apps-worker-processes'],
    ['`node:cluster` apps: worker processes', 'nodecluster-apps-worker-processes'],
    ['Sharing keys with nginx: `TLS_CACHE_TICKET_KEY_FILE`', 'sharing-keys-with-nginx-tls_cache_ticket_key_file'],
    ["Without Node's internal ticket key callback: one key at a time", 'without-nodes-internal-ticket-key-callback-one-key-at-a-time'],
    ['Figures: `npm run bench -- --modes shared,redis`', 'figures-npm-run-bench------modes-sharedredis'],
    ['Signals: rotate now, flush everything', 'signals-rotate-now-flush-everything'],
    ['**Bold** and _emphasis_ and snake_case', 'bold-and-emphasis-and-snake_case'],
    ['A [link](https://example.com) inside', 'a-link-inside'],
    ['Tickets (TLS 1.2 & 1.3)', 'tickets-tls-12--13'],
    ['Ünïcode and 日本語', 'ünïcode-and-日本語'],
  ];
  for (const [heading, expected] of cases) t.equal(slug(headingText(heading)), expected, heading);
  const anchors = headingAnchors('# Figures\n\n## Figures\n\n### Figures\n\nSetext\n------\n\n```\n# not a heading\n```\n');
  t.same([...anchors], ['figures', 'figures-1', 'figures-2', 'setext']);
});

t.test('the checker finds broken links, and only those', async (t) => {
  const root = resolve('/repo');
  const tree: Record<string, string> = {
    '/repo/README.md': [
      '# Title',
      '',
      'Good: [a](docs/a.md), [anchor](docs/a.md#the-heading), [here](#title), [folder](docs),',
      '[site](https://example.com/x.md#nothing), [mail](mailto:someone@example.com),',
      '![img](docs/a.md "title") and [ref]: docs/a.md',
      '',
      'Bad: [missing](docs/missing.md), [bad anchor](docs/a.md#no-such-heading),',
      '[own anchor](#nowhere), [outside](../etc/passwd), <a href="docs/b.md">b</a>.',
      '',
      'Not links: `[code](docs/missing.md)` and',
      '',
      '```md',
      '[fenced](docs/missing.md)',
      '```',
    ].join('\n'),
    '/repo/docs/a.md': '# A\n\n## The heading\n',
  };
  const files: Files = {
    read: (path) => tree[path],
    isDirectory: (path) => path === '/repo/docs',
  };
  const problems = brokenLinks('/repo/README.md', root, files);
  t.same(problems, [
    'README.md:7: docs/missing.md: no such file',
    'README.md:7: docs/a.md#no-such-heading: no heading with the anchor #no-such-heading in docs/a.md',
    'README.md:8: #nowhere: no heading with the anchor #nowhere in README.md',
    'README.md:8: ../etc/passwd: leads out of the repository',
    'README.md:8: docs/b.md: no such file',
  ]);
});
