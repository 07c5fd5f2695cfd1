import { CLIENT_SCRIPT } from './client-script.js';
import type { ReportModel } from './model.js';
import { REPORT_CSS } from './styles.js';

/** Text for an HTML text node or attribute. */
function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * JSON that is safe inside a `<script>` element: `<` is escaped so that no tag
 * value can close the element, and U+2028/U+2029 for old parsers.
 */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/**
 * The whole report as one self-contained page: styles, script and data inline,
 * and a Content-Security-Policy that forbids every network fetch.
 */
export function renderReportPage(model: ReportModel): string {
  const title = escapeHtml(model.title);
  const windows = model.history.windows.length;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<meta name="generator" content="reqprof">
<link rel="icon" href="data:,">
<title>${title}</title>
<style>${REPORT_CSS}</style>
</head>
<body>
<header>
<h1>${title}</h1>
<div class="meta" id="meta"></div>
<label title="Reload this file after each profiling window"><input type="checkbox" id="auto-reload"> Reload with each window</label>
</header>
<main>
<section class="cards" id="summary" aria-label="Latest window summary"></section>
<section class="panel" id="chart-panel">
<h2>CPU share per tag set<span class="sub">last ${windows} window${windows === 1 ? '' : 's'}, JS thread CPU</span></h2>
<div class="chart" id="chart"></div>
<div class="legend" id="legend"></div>
</section>
<section class="panel" id="table-panel">
<h2>Latest window<span class="sub">CPU per tag set, largest first</span></h2>
<div class="table-wrap">
<table id="table">
<thead><tr><th>Tag set</th><th>CPU share</th><th class="num">± 95%</th><th class="num">CPU</th><th class="num">Samples</th><th class="num req">Requests</th><th class="num req">CPU / request</th><th>Hottest functions</th></tr></thead>
<tbody id="rows"></tbody>
</table>
</div>
<p class="note" id="table-note"></p>
</section>
<section class="panel" id="flame-panel">
<h2>Flame graph<span class="sub">where the chosen tag set's CPU goes, callers above callees; click a frame to zoom</span></h2>
<div class="controls">
<select id="flame-select" aria-label="Tag set"></select>
<input id="flame-search" type="search" placeholder="Highlight functions…" aria-label="Highlight functions">
<button id="flame-reset" type="button">Reset zoom</button>
</div>
<div class="flame-info" id="flame-info"></div>
<div class="flame" id="flame"></div>
<div class="flame-legend">
<span><i class="swatch" style="background:hsl(30,88%,62%)"></i>your code</span>
<span><i class="swatch" style="background:hsl(155,40%,70%)"></i>node_modules</span>
<span><i class="swatch" style="background:hsl(210,45%,76%)"></i>Node.js internals</span>
<span><i class="swatch" style="background:hsl(265,30%,82%)"></i>runtime (GC, native)</span>
</div>
</section>
</main>
<div class="tip" id="tip" hidden></div>
<noscript><p style="padding:0 28px">This report draws its chart, table and flame graph with JavaScript.</p></noscript>
<script type="application/json" id="reqprof-data">${scriptJson(model)}</script>
<script>${CLIENT_SCRIPT}</script>
</body>
</html>
`;
}
