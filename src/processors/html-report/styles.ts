/** The report's stylesheet, inlined in the page (light and dark, system fonts only: nothing to fetch). */
export const REPORT_CSS = `
:root {
  --bg: #f4f5f8; --panel: #ffffff; --text: #1d2433; --muted: #667085; --line: #e3e6ec;
  --accent: #3b5bdb; --accent-soft: #e8edff; --row-hover: #f6f8fc; --bar: #5b7cfa;
  --shadow: 0 1px 2px rgba(16, 24, 40, .06), 0 1px 3px rgba(16, 24, 40, .08);
  --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #14171f; --panel: #1c2029; --text: #e6e9ef; --muted: #98a2b3; --line: #2c3240;
    --accent: #8ea2ff; --accent-soft: #263056; --row-hover: #232836; --bar: #7d95ff;
    --shadow: none;
  }
}
* { box-sizing: border-box; }
body {
  margin: 0; background: var(--bg); color: var(--text);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
}
header {
  display: grid; grid-template-columns: 1fr auto; align-items: baseline; gap: 2px 18px;
  padding: 18px 28px 8px; max-width: 1500px;
}
header h1 { margin: 0; font-size: 20px; font-weight: 650; letter-spacing: -.01em; }
header .meta { color: var(--muted); grid-column: 1 / -1; grid-row: 2; font-size: 13px; }
header label { color: var(--muted); font-size: 13px; user-select: none; white-space: nowrap; }
main { padding: 8px 28px 40px; display: grid; gap: 18px; max-width: 1500px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(160px, 1fr)); gap: 12px; }
.card { background: var(--panel); border-radius: 10px; padding: 12px 14px; box-shadow: var(--shadow); border: 1px solid var(--line); }
.card .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.card .value { font-size: 20px; font-weight: 600; margin-top: 2px; font-variant-numeric: tabular-nums; }
.card .hint { color: var(--muted); font-size: 12px; }
.panel { background: var(--panel); border-radius: 12px; padding: 16px 18px 18px; box-shadow: var(--shadow); border: 1px solid var(--line); min-width: 0; }
.panel h2 { margin: 0 0 12px; font-size: 16px; font-weight: 650; }
.panel h2 .sub { color: var(--muted); font-weight: 400; font-size: 13px; margin-left: 8px; }
.chart svg { display: block; width: 100%; height: auto; overflow: visible; }
.chart .axis text { fill: var(--muted); font-size: 11px; font-variant-numeric: tabular-nums; }
.chart .grid line { stroke: var(--line); }
.chart .col:hover .hl { fill: var(--text); fill-opacity: .06; }
.chart rect.seg { transition: opacity .12s; }
.chart.dim rect.seg { opacity: .25; }
.chart.dim rect.seg.on { opacity: 1; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 8px; margin-top: 10px; }
.legend button {
  display: inline-flex; align-items: center; gap: 6px; border: 1px solid var(--line); background: transparent;
  color: var(--text); border-radius: 999px; padding: 3px 10px 3px 8px; font: inherit; font-size: 12.5px; cursor: pointer;
}
.legend button:hover, .legend button.sel { background: var(--accent-soft); border-color: var(--accent); }
.legend .pct { color: var(--muted); font-variant-numeric: tabular-nums; }
.swatch { width: 10px; height: 10px; border-radius: 3px; flex: none; display: inline-block; }
.tagset { display: flex; align-items: center; gap: 8px; min-width: 180px; }
.chips { display: inline-flex; flex-wrap: wrap; gap: 4px; }
.chip { font-family: var(--mono); font-size: 12px; background: var(--accent-soft); color: var(--text); border-radius: 5px; padding: 1px 6px; white-space: nowrap; }
.chip b { font-weight: 600; color: var(--muted); }
.chip.plain { background: transparent; border: 1px dashed var(--line); color: var(--muted); }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th { text-align: left; font-size: 12px; color: var(--muted); font-weight: 600; text-transform: uppercase; letter-spacing: .03em; padding: 6px 10px; border-bottom: 1px solid var(--line); white-space: nowrap; }
td { padding: 7px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th.num, td.num { text-align: right; white-space: nowrap; }
tbody tr.pick { cursor: pointer; }
tbody tr:hover { background: var(--row-hover); }
tbody tr.sel { background: var(--row-hover); box-shadow: inset 3px 0 0 var(--accent); }
tr.more td { color: var(--muted); font-style: italic; }
.share { display: flex; align-items: center; gap: 8px; min-width: 150px; }
.share .track { flex: 1; height: 8px; background: var(--line); border-radius: 4px; overflow: hidden; min-width: 60px; }
.share .fill { height: 100%; background: var(--bar); border-radius: 4px; }
.share .n { width: 54px; text-align: right; font-weight: 600; }
.hot { font-family: var(--mono); font-size: 12px; line-height: 1.6; }
.hot .where { color: var(--muted); }
.hot .p { color: var(--muted); margin-left: 4px; }
.note { color: var(--muted); font-size: 12.5px; margin: 10px 0 0; }
.controls { display: flex; flex-wrap: wrap; align-items: center; gap: 8px 12px; margin-bottom: 10px; }
.controls select, .controls input, .controls button {
  font: inherit; font-size: 13px; color: var(--text); background: var(--panel);
  border: 1px solid var(--line); border-radius: 7px; padding: 5px 9px;
}
.controls select { min-width: 260px; max-width: 100%; }
.controls button { cursor: pointer; }
.controls button:hover { border-color: var(--accent); }
.flame-info { color: var(--muted); font-size: 13px; margin-bottom: 8px; }
.flame { position: relative; width: 100%; overflow: hidden; border-top: 1px solid var(--line); }
.fr {
  position: absolute; height: 19px; padding: 0 5px; overflow: hidden; white-space: nowrap; text-overflow: ellipsis;
  font: 12px/19px var(--mono); color: #1d1d1d; border-radius: 2px; cursor: pointer;
  box-shadow: inset 0 0 0 .5px rgba(255, 255, 255, .7);
}
.fr:hover { filter: brightness(1.1) saturate(1.2); box-shadow: inset 0 0 0 1px rgba(0, 0, 0, .5); }
.fr.anc { opacity: .55; }
.fr.root { background: #c9cfdb; }
.flame.searching .fr:not(.match) { opacity: .28; }
.flame.searching .fr.match { box-shadow: inset 0 0 0 1.5px #d6336c; }
.flame-legend { display: flex; gap: 14px; flex-wrap: wrap; color: var(--muted); font-size: 12px; margin-top: 10px; }
.flame-legend span { display: inline-flex; align-items: center; gap: 6px; }
.empty { color: var(--muted); padding: 24px 0; text-align: center; }
.tip {
  position: fixed; z-index: 10; pointer-events: none; max-width: 460px; background: rgba(20, 23, 31, .94); color: #f3f5f9;
  border-radius: 8px; padding: 8px 10px; font-size: 12.5px; line-height: 1.5; box-shadow: 0 6px 24px rgba(0, 0, 0, .25);
}
.tip .t { font-weight: 600; margin-bottom: 3px; word-break: break-all; }
.tip .m { color: #b9c0cf; font-family: var(--mono); font-size: 11.5px; word-break: break-all; }
.tip table td { border: 0; padding: 1px 8px 1px 0; color: inherit; }
.tip .swatch { margin-right: 4px; }

body.no-requests .req { display: none; }
`;
