/**
 * Figures to SVG in Node (Vega-Lite compiled to Vega, rendered headless by Vega's own SVG
 * renderer: no browser, no canvas) and the self-contained HTML page around them.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { Figure } from './figures.ts';
import type { Claim } from './rows.ts';
import { shippedFor, type VerdictRow, type VerdictsFile } from './verdicts.ts';

/** Words of `text` in lines of at most `width` characters. */
export function wrap(text: string, width = 110): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/**
 * The figure as SVG, with its title and caption (and so its settings: seeds, ω, ε_lin, APL variant,
 * backend, the sparse phase's rate and clipping) drawn into the picture, so an exported file says
 * how it was made.
 */
export async function toSvg(figure: Figure): Promise<string> {
  const titled = {
    ...figure.spec,
    title: {
      text: figure.title,
      subtitle: wrap(figure.caption),
      anchor: 'start',
      subtitleFontSize: 9,
      subtitleColor: '#555',
    },
  };
  // Vega is loaded when a figure is drawn, not when pipeline.ts imports the report stage: every
  // command loads the pipeline, and Vega with Vega-Lite cost ~300 ms of it.
  const [vega, { compile }] = await Promise.all([import('vega'), import('vega-lite')]);
  // The one place a spec meets vega-lite's types: compile validates it at run time (figures.ts).
  const { spec } = compile(titled as TopLevelSpec);
  const view = new vega.View(vega.parse(spec), { renderer: 'none', logLevel: vega.Warn });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const escapeHtml = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export interface Table {
  readonly caption?: string;
  readonly columns: readonly string[];
  readonly rows: readonly (readonly (string | number)[])[];
}

/** One analysis: its claims judged, its figures, the numbers behind them, and its notes. */
export interface Section {
  readonly id: string;
  readonly title: string;
  /** The paper (or the bridge between two) whose claims the section judges, for the verdict table. */
  readonly paper?: string;
  readonly text: readonly string[];
  readonly claims: readonly Claim[];
  readonly figures: readonly { figure: Figure; svg: string }[];
  readonly tables: readonly Table[];
  readonly notes: readonly string[];
}

/** The table the page opens with: every claim's verdict, and the shipped claims run's beside them when this run cannot judge. */
export interface Verdicts {
  readonly rows: readonly VerdictRow[];
  /** What the table says before it: whether this run can judge, and where the shipped verdicts come from. */
  readonly note: string;
  readonly shipped?: VerdictsFile;
}

export interface Page {
  readonly title: string;
  readonly intro: readonly string[];
  readonly verdicts?: Verdicts;
  readonly sections: readonly Section[];
}

/** Columns of the verdict table; the shipped run's column only when there is one to show. */
function verdictColumns(v: Verdicts): string[] {
  return [
    'paper',
    'claim',
    'verdict',
    'effect, 95 % CI',
    'task',
    'section',
    ...(v.shipped ? ['shipped claims run (not this run)'] : []),
  ];
}

function verdictCells(v: Verdicts, r: VerdictRow, link: (r: VerdictRow) => string): string[] {
  return [
    r.paper,
    r.claim,
    r.verdict,
    r.effect ?? '–',
    r.task ?? '–',
    link(r),
    ...(v.shipped ? [shippedFor(r, v.shipped)] : []),
  ];
}

/** GitHub's anchor for a Markdown heading. */
export const headingSlug = (title: string) =>
  title
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s-]/gu, '')
    .trim()
    .replace(/\s/g, '-');

const verdictClass = (v: string) => v.replace(/ /g, '-');

function htmlTable(t: Table): string {
  return `${t.caption ? `<p class="caption">${escapeHtml(t.caption)}</p>\n` : ''}<table>
<tr>${t.columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('')}</tr>
${t.rows.map((r) => `<tr>${r.map((v) => `<td>${escapeHtml(String(v))}</td>`).join('')}</tr>`).join('\n')}
</table>`;
}

function htmlVerdicts(v: Verdicts): string {
  const cells = (r: VerdictRow) =>
    verdictCells(v, r, () => '').map((c, i) =>
      i === 2
        ? `<td class="${verdictClass(c)}"><b>${escapeHtml(c)}</b></td>`
        : i === 5
          ? `<td><a href="#${escapeHtml(r.section.id)}">${escapeHtml(r.section.title)}</a></td>`
          : `<td>${escapeHtml(c)}</td>`,
    );
  return `<section id="verdicts">
<h2>Verdicts</h2>
<p>${escapeHtml(v.note)}</p>
<table>
<tr>${verdictColumns(v)
    .map((c) => `<th>${escapeHtml(c)}</th>`)
    .join('')}</tr>
${v.rows.map((r) => `<tr>${cells(r).join('')}</tr>`).join('\n')}
</table>
</section>`;
}

function htmlSection(s: Section): string {
  return `<section id="${escapeHtml(s.id)}">
<h2>${escapeHtml(s.title)}</h2>
${s.text.map((p) => `<p>${escapeHtml(p)}</p>`).join('\n')}
${s.claims.length ? `<h3>Claims</h3>\n<ul class="claims">\n${s.claims.map((c) => `<li><b>${escapeHtml(c.claim)}</b>: <span class="${verdictClass(c.verdict)}">${escapeHtml(c.verdict)}</span>. ${escapeHtml(c.evidence)}</li>`).join('\n')}\n</ul>` : ''}
${s.figures.map(({ figure, svg }) => `<figure id="${escapeHtml(figure.id)}" class="plot">\n<h3>${escapeHtml(figure.title)}</h3>\n${svg}\n<figcaption>${escapeHtml(figure.caption)}</figcaption>\n</figure>`).join('\n')}
${s.tables.length ? `<h3>Numbers</h3>\n${s.tables.map(htmlTable).join('\n')}` : ''}
${s.notes.length ? `<h3>Choices and notes</h3>\n<ul>\n${s.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('\n')}\n</ul>` : ''}
</section>`;
}

export function html(page: Page): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(page.title)}</title>
<style>
body { font-family: sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em; color: #222; }
section { margin-top: 3em; } figure { margin: 2em 0; } figcaption, .caption { font-size: 0.9em; color: #444; max-width: 60em; }
table { border-collapse: collapse; font-size: 0.85em; margin-bottom: 1em; } td, th { border: 1px solid #ccc; padding: 2px 6px; text-align: right; }
th { background: #f3f3f3; } .reproduced { color: #16632a; } .not-reproduced { color: #9b1c1c; } .not-tested { color: #666; }
</style>
</head>
<body>
<h1>${escapeHtml(page.title)}</h1>
${page.intro.map((p) => `<p>${escapeHtml(p)}</p>`).join('\n')}
${page.verdicts ? htmlVerdicts(page.verdicts) : ''}
<nav><ul>
${page.sections.map((s) => `<li><a href="#${escapeHtml(s.id)}">${escapeHtml(s.title)}</a></li>`).join('\n')}
</ul></nav>
${page.sections.map(htmlSection).join('\n')}
</body>
</html>
`;
}

const cell = (v: string | number) => String(v).replace(/\|/g, '\\|');

function markdownTable(t: Table): string[] {
  return [
    ...(t.caption ? [t.caption, ''] : []),
    `| ${t.columns.map(cell).join(' | ')} |`,
    `|${t.columns.map(() => '---').join('|')}|`,
    ...t.rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
    '',
  ];
}

/** The page without figures: every section's claims and tables, for summary.md. */
export function markdown(page: Page): string {
  return [
    `# ${page.title}`,
    '',
    ...page.intro.flatMap((p) => [p, '']),
    ...(page.verdicts ? markdownVerdicts(page.verdicts) : []),
    ...page.sections.flatMap((s) => [
      `## ${s.title}`,
      '',
      ...s.text.flatMap((p) => [p, '']),
      ...(s.claims.length
        ? [
            '| claim | verdict | evidence |',
            '|---|---|---|',
            ...s.claims.map((c) => `| ${c.claim} | **${c.verdict}** | ${cell(c.evidence)} |`),
            '',
          ]
        : []),
      ...s.tables.flatMap(markdownTable),
    ]),
  ].join('\n');
}

function markdownVerdicts(v: Verdicts): string[] {
  const columns = verdictColumns(v);
  return [
    '## Verdicts',
    '',
    v.note,
    '',
    `| ${columns.join(' | ')} |`,
    `|${columns.map(() => '---').join('|')}|`,
    ...v.rows.map(
      (r) =>
        `| ${verdictCells(v, r, (x) => `[${x.section.title}](#${headingSlug(x.section.title)})`)
          .map((c, i) => (i === 2 ? `**${cell(c)}**` : cell(c)))
          .join(' | ')} |`,
    ),
    '',
  ];
}
