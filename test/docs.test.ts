// The docs a clone ships with: every file a tracked Markdown page links to or embeds is itself
// tracked, so the figures and summaries the README quotes are there on a fresh clone (an ignore
// pattern once kept docs/results/ out of git while the README pointed at it).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { dirname, join, normalize } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function tracked(): Set<string> {
  const out = execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' });
  return new Set(out.split('\0').filter(Boolean));
}

/** Relative link targets of a Markdown page: `[text](target)` and `![alt](target)`, without
 * anchors; external links and pure anchors are not files in the repository. */
function localTargets(markdown: string): string[] {
  const targets: string[] = [];
  for (const match of markdown.matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
    const target = match[1]!.split('#')[0]!;
    if (target === '' || /^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
    targets.push(target);
  }
  return targets;
}

/** Relative links with an anchor: the page (empty for the same page) and the anchor. */
function anchoredTargets(markdown: string): { page: string; anchor: string }[] {
  return [...markdown.matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].flatMap((match) => {
    const [page = '', anchor] = match[1]!.split('#');
    if (anchor === undefined || /^[a-z][a-z0-9+.-]*:/i.test(page) || (page !== '' && !page.endsWith('.md'))) return [];
    return [{ page, anchor }];
  });
}

/** The anchors a Markdown page's headings get, as GitHub makes them (a repeated heading gets -1, -2…). */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const heading = !fenced && /^#{1,6} (.+)$/.exec(line);
    if (!heading) continue;
    const slug = heading[1]!
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    anchors.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return anchors;
}

/** Headings of a page as written (without the leading #s and a section number). */
function headingsOf(markdown: string): Set<string> {
  return new Set([...markdown.matchAll(/^#{1,6} (?:\d+\. )?(.+)$/gm)].map((m) => m[1]!.trim()));
}

describe('docs', () => {
  it('makes anchors as GitHub does', () => {
    assert.deepEqual(
      [
        ...headingAnchors(
          '# A b\n## Testing the claims: `linea run --preset claims`\n## A b\n```\n# not\n```\n## P1 × P2',
        ),
      ],
      ['a-b', 'testing-the-claims-linea-run---preset-claims', 'a-b-1', 'p1--p2'],
    );
  });

  it('every anchor a tracked Markdown page links to is a heading of its target', () => {
    const files = tracked();
    const pages = [...files].filter((f) => f.endsWith('.md') && !f.startsWith('node_modules/'));
    const broken: string[] = [];
    for (const page of pages) {
      for (const { page: target, anchor } of anchoredTargets(readFileSync(join(root, page), 'utf8'))) {
        const path = target === '' ? page : normalize(join(dirname(page), decodeURIComponent(target)));
        if (!files.has(path)) continue; // the file itself is checked below
        if (!headingAnchors(readFileSync(join(root, path), 'utf8')).has(anchor))
          broken.push(`${page} → ${target}#${anchor}`);
      }
    }
    assert.deepEqual(broken, [], 'links to headings that do not exist (fix the anchor or the heading)');
  });

  it('every section a source file or page cites by name (`docs/x.md, "Section"`) exists', () => {
    const files = [...tracked()].filter(
      (f) => /\.(ts|md|mjs|js|py)$/.test(f) && !f.startsWith('node_modules/') && f !== 'test/docs.test.ts',
    );
    const missing: string[] = [];
    for (const f of files) {
      for (const m of readFileSync(join(root, f), 'utf8').matchAll(
        /((?:docs\/[\w/-]+|README|src\/[\w/]+\/README)\.md), "([^"]+)"/g,
      )) {
        if (m[1] === 'docs/science.md') continue; // below, with its own rule for lists of sections
        const page = m[1]!;
        if (!existsSync(join(root, page))) {
          missing.push(`${f} cites ${page}, which does not exist`);
          continue;
        }
        // A citation may wrap inside a comment: ` * ` and `// ` at the line starts are not its text.
        const section = m[2]!.replace(/\s*\n\s*(?:\*|\/\/)?\s*/g, ' ');
        if (!headingsOf(readFileSync(join(root, page), 'utf8')).has(section))
          missing.push(`${f} → ${page}, "${section}"`);
      }
    }
    assert.deepEqual(missing, [], 'cited sections missing');
  });

  it('finds local links and skips external ones and anchors', () => {
    assert.deepEqual(localTargets('see [a](docs/a.md#x), ![f](fig.svg "t"), [w](https://x.org/y), [h](#top)'), [
      'docs/a.md',
      'fig.svg',
    ]);
  });

  it('every file a tracked Markdown page links to is tracked', () => {
    const files = tracked();
    const pages = [...files].filter((f) => f.endsWith('.md') && !f.startsWith('node_modules/'));
    assert.ok(pages.includes('README.md'), 'README.md is tracked');
    const missing: string[] = [];
    for (const page of pages) {
      for (const target of localTargets(readFileSync(join(root, page), 'utf8'))) {
        const path = normalize(join(dirname(page), decodeURIComponent(target))).replace(/\/$/, '');
        const isDir = [...files].some((f) => f.startsWith(`${path}/`));
        if (!files.has(path) && !isDir) missing.push(`${page} → ${target}`);
      }
    }
    assert.deepEqual(missing, [], `untracked link targets (add them to git or fix the link)`);
  });

  it('nothing the product ships cites a file outside the repository (docs/science.md is its own)', () => {
    const files = [...tracked()].filter(
      (f) => /\.(ts|md|mjs|js|py|json|html)$/.test(f) && !f.startsWith('node_modules/') && f !== 'test/docs.test.ts',
    );
    const outside = files.filter((f) =>
      /\.\.\/shared|['"]shared['"]\s*,\s*['"]bench/.test(readFileSync(join(root, f), 'utf8')),
    );
    assert.deepEqual(
      outside,
      [],
      'these files refer to ../shared; cite docs/science.md or a file in the repository instead',
    );
    assert.ok(files.includes('docs/science.md'), 'docs/science.md is tracked');
  });

  it('every docs/science.md section a source file cites exists', () => {
    const science = readFileSync(join(root, 'docs/science.md'), 'utf8');
    const headings = new Set([...science.matchAll(/^#{2,4} (?:\d+\. )?(.+)$/gm)].map((m) => m[1]!.trim()));
    const cited = new Set<string>();
    for (const f of [...tracked()].filter((f) => /\.(ts|md)$/.test(f) && !f.startsWith('node_modules/'))) {
      for (const m of readFileSync(join(root, f), 'utf8').matchAll(/docs\/science\.md, "([^"]+)"/g))
        for (const name of m[1]!.split(', ')) cited.add(name);
    }
    assert.deepEqual(
      [...cited].filter((c) => !headings.has(c)),
      [],
      'cited sections missing from docs/science.md',
    );
  });
});
