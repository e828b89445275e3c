/**
 * Figures to SVG in Node (Vega-Lite compiled to Vega, rendered headless by Vega's own SVG
 * renderer: no browser, no canvas) and the self-contained HTML page around them.
 */
import * as vega from 'vega';
import { compile } from 'vega-lite';
import type { Figure } from './figures.ts';
import type { Claim } from './rows.ts';

export async function toSvg(figure: Figure): Promise<string> {
  const { spec } = compile(figure.spec);
  const view = new vega.View(vega.parse(spec), { renderer: 'none', logLevel: vega.Warn });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export interface Page {
  readonly title: string;
  readonly intro: readonly string[];
  readonly claims: readonly Claim[];
  readonly figures: readonly { figure: Figure; svg: string }[];
  readonly table: { readonly columns: readonly string[]; readonly rows: readonly (readonly (string | number)[])[] };
  readonly notes: readonly string[];
}

export function html(page: Page): string {
  const verdictClass = (v: string) => v.replace(/ /g, '-');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escape(page.title)}</title>
<style>
body { font-family: sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em; color: #222; }
figure { margin: 2em 0; } figcaption { font-size: 0.9em; color: #444; max-width: 60em; }
table { border-collapse: collapse; font-size: 0.85em; } td, th { border: 1px solid #ccc; padding: 2px 6px; text-align: right; }
th { background: #f3f3f3; } .reproduced { color: #16632a; } .not-reproduced { color: #9b1c1c; } .not-tested { color: #666; }
</style>
</head>
<body>
<h1>${escape(page.title)}</h1>
${page.intro.map((p) => `<p>${escape(p)}</p>`).join('\n')}
<h2>Claims (science.md §1.1)</h2>
<ul>
${page.claims.map((c) => `<li><b>${escape(c.claim)}</b>: <span class="${verdictClass(c.verdict)}">${escape(c.verdict)}</span>. ${escape(c.evidence)}</li>`).join('\n')}
</ul>
${page.figures
  .map(({ figure, svg }) => `<figure id="${escape(figure.id)}" class="plot">\n<h2>${escape(figure.title)}</h2>\n${svg}\n<figcaption>${escape(figure.caption)}</figcaption>\n</figure>`)
  .join('\n')}
<h2>All networks</h2>
<table>
<tr>${page.table.columns.map((c) => `<th>${escape(c)}</th>`).join('')}</tr>
${page.table.rows.map((r) => `<tr>${r.map((v) => `<td>${escape(String(v))}</td>`).join('')}</tr>`).join('\n')}
</table>
<h2>Choices and notes</h2>
<ul>
${page.notes.map((n) => `<li>${escape(n)}</li>`).join('\n')}
</ul>
</body>
</html>
`;
}
