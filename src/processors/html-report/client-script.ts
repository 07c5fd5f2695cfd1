/**
 * The report's browser script, inlined in the page. Plain ES2017 with no
 * dependencies; it reads the JSON model from `#reqprof-data` and draws the
 * summary, the share chart (SVG), the table and the flame graph (positioned
 * divs). Tag values are user data: they only ever reach the DOM as text.
 *
 * Kept as a string (not a stringified function) so that no build step or test
 * transpiler can slip helpers into it that the browser would lack.
 */
export const CLIENT_SCRIPT = String.raw`
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('reqprof-data').textContent);
  var ALL = data.flame ? data.flame.allKey : '*';
  var OTHER = '\u0000other';
  var PALETTE = ['#4c6ef5', '#f59f00', '#12b886', '#e64980', '#7950f2', '#fa5252', '#15aabf', '#82c91e', '#fd7e14', '#be4bdb', '#228be6', '#40c057'];
  var GREY_OTHER = '#adb5bd', GREY_UNTAGGED = '#ced4da';
  var ROW_H = 20;

  var state = { flame: null, zoom: 0, search: '' };
  var colorOf = {};
  var trees = {};
  var tip = document.getElementById('tip');

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function svg(tag, attrs) {
    var e = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }
  function pct(x, digits) { return (x * 100).toFixed(digits === undefined ? 1 : digits) + '%'; }
  function fmtMs(ms) {
    if (ms >= 10000) return (ms / 1000).toFixed(1) + ' s';
    if (ms >= 1000) return (ms / 1000).toFixed(2) + ' s';
    return ms.toFixed(ms < 10 ? 2 : 1) + ' ms';
  }
  function fmtInt(n) { return Math.round(n).toLocaleString('en-US'); }
  // Windows shorter than a few seconds need tenths to tell their times apart.
  var TENTHS = data.windowMs < 3000;
  function fmtTime(t) {
    var d = new Date(t);
    function two(n) { return (n < 10 ? '0' : '') + n; }
    return two(d.getHours()) + ':' + two(d.getMinutes()) + ':' + two(d.getSeconds()) + (TENTHS ? '.' + Math.floor(d.getMilliseconds() / 100) : '');
  }
  function fmtDate(t) { return new Date(t).toLocaleString(); }

  function labelOf(key, tags) {
    if (key === '') return '(untagged)';
    if (key === OTHER) return '(other tag sets)';
    if (key === ALL) return 'All CPU (every tag set)';
    var parts = [];
    for (var i = 0; i + 1 < tags.length; i += 2) parts.push(tags[i] + '=' + tags[i + 1]);
    return parts.join(', ');
  }
  function chips(key, tags) {
    var box = el('span', 'chips');
    if (key === '' || key === OTHER || key === ALL) {
      box.appendChild(el('span', 'chip plain', labelOf(key, tags)));
      return box;
    }
    for (var i = 0; i + 1 < tags.length; i += 2) {
      var c = el('span', 'chip');
      c.appendChild(el('b', null, tags[i] + '='));
      c.appendChild(document.createTextNode(tags[i + 1]));
      box.appendChild(c);
    }
    return box;
  }
  /** The file's last two path segments and the line: enough to recognise it; the full path goes in a tooltip. */
  function where(file, line) {
    if (!file) return '';
    var parts = file.replace(/^file:\/\//, '').split(/[\\/]/);
    var short = parts.length > 2 ? parts.slice(-2).join('/') : parts.join('/');
    return short + (line ? ':' + line : '');
  }

  function showTip(ev, build) {
    tip.textContent = '';
    build(tip);
    tip.hidden = false;
    var x = ev.clientX + 14, y = ev.clientY + 14;
    var r = tip.getBoundingClientRect();
    if (x + r.width > window.innerWidth - 8) x = Math.max(8, ev.clientX - r.width - 14);
    if (y + r.height > window.innerHeight - 8) y = Math.max(8, ev.clientY - r.height - 14);
    tip.style.left = x + 'px';
    tip.style.top = y + 'px';
  }
  function hideTip() { tip.hidden = true; }

  // ---- state in the URL hash, so a reload (auto or manual) keeps the choice ----
  function readHash() {
    var h = location.hash.replace(/^#/, '');
    var out = {};
    h.split('&').forEach(function (kv) {
      if (!kv) return;
      var i = kv.indexOf('=');
      out[decodeURIComponent(i < 0 ? kv : kv.slice(0, i))] = i < 0 ? '' : decodeURIComponent(kv.slice(i + 1));
    });
    return out;
  }
  function writeHash() {
    var parts = [];
    if (state.flame !== null) parts.push('flame=' + encodeURIComponent(state.flame));
    if ($('auto-reload').checked) parts.push('reload=1');
    history.replaceState(null, '', '#' + parts.join('&'));
  }

  // ---- summary ----
  function renderMeta() {
    var l = data.latest;
    $('meta').textContent = 'Latest window ' + fmtTime(l.start) + '–' + fmtTime(l.end) +
      ' · written ' + fmtDate(data.generatedAt) + ' · sampling every ' + (data.samplingIntervalMicros / 1000) + ' ms · ' + data.mode;
  }
  function card(label, value, hint) {
    var c = el('div', 'card');
    c.appendChild(el('div', 'label', label));
    c.appendChild(el('div', 'value', value));
    if (hint) c.appendChild(el('div', 'hint', hint));
    return c;
  }
  function renderSummary() {
    var l = data.latest, box = $('summary');
    var cores = l.durationMs > 0 ? l.totalCpuMs / l.durationMs : 0;
    var tagged = l.rows.filter(function (r) { return r.key !== ''; }).length + (l.more ? l.more.tagSets : 0);
    box.appendChild(card('Window', fmtMs(l.durationMs), l.windows > 1 ? l.windows + ' windows merged' : 'ended: ' + l.reason));
    box.appendChild(card('JS thread CPU', fmtMs(l.totalCpuMs), pct(cores) + ' of one core'));
    box.appendChild(card('Tag sets', fmtInt(tagged), l.overflowTagSets > 0 ? fmtInt(l.overflowTagSets) + ' over the cap' : 'with CPU this window'));
    box.appendChild(card('Untagged', l.totalCpuMs > 0 ? pct(l.untaggedCpuMs / l.totalCpuMs) : '–', fmtMs(l.untaggedCpuMs) + ' outside any request'));
    box.appendChild(card('Samples', fmtInt(l.busySamples), 'busy of ' + fmtInt(l.samples) + ', ' + fmtInt(l.effectiveSamples) + ' effective; share ± ≤ ' + pct(l.effectiveSamples > 0 ? 0.98 / Math.sqrt(l.effectiveSamples) : 0) + ' (95%)'));
    box.appendChild(card('Other threads', fmtMs(l.nonJsThreadsCpuMs), 'GC helpers, libuv pool'));
  }

  // ---- chart: stacked columns of CPU share per window ----
  function assignColors() {
    var i = 0;
    data.history.series.forEach(function (s) {
      colorOf[s.key] = s.kind === 'other' ? GREY_OTHER : s.kind === 'untagged' ? GREY_UNTAGGED : PALETTE[i++ % PALETTE.length];
    });
  }
  function renderChart() {
    var box = $('chart');
    box.textContent = '';
    var h = data.history, n = h.windows.length;
    if (n === 0) { box.appendChild(el('div', 'empty', 'No windows yet.')); return; }
    var W = Math.max(360, box.clientWidth || 900), H = 250;
    var m = { l: 44, r: 10, t: 8, b: 26 };
    var pw = W - m.l - m.r, ph = H - m.t - m.b;
    var s = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, width: W, height: H, role: 'img', 'aria-label': 'CPU share per tag set over the last windows' });
    var grid = svg('g', { 'class': 'grid axis' });
    [0, 0.25, 0.5, 0.75, 1].forEach(function (v) {
      var y = m.t + ph * (1 - v);
      grid.appendChild(svg('line', { x1: m.l, x2: W - m.r, y1: y, y2: y }));
      var t = svg('text', { x: m.l - 6, y: y + 4, 'text-anchor': 'end' });
      t.textContent = (v * 100) + '%';
      grid.appendChild(t);
    });
    s.appendChild(grid);
    var cw = pw / n;
    var bw = Math.min(56, n === 1 ? cw * 0.4 : cw > 6 ? cw * 0.8 : cw);
    var every = Math.max(1, Math.ceil(n / Math.max(1, Math.floor(pw / 70))));
    h.windows.forEach(function (w, wi) {
      var g = svg('g', { 'class': 'col' });
      var x0 = m.l + wi * cw;
      g.appendChild(svg('rect', { 'class': 'hl', x: x0, y: m.t, width: cw, height: ph, fill: 'transparent' }));
      var total = 0;
      w.shares.forEach(function (v) { total += v; });
      var y = m.t + ph, norm = total > 1 ? total : 1;
      w.shares.forEach(function (v, si) {
        if (v <= 0) return;
        var hh = ph * v / norm;
        y -= hh;
        var key = h.series[si].key;
        g.appendChild(svg('rect', { 'class': 'seg', 'data-key': key, x: x0 + (cw - bw) / 2, y: y, width: Math.max(1, bw), height: Math.max(0.5, hh), fill: colorOf[key] }));
      });
      g.addEventListener('mousemove', function (ev) { showTip(ev, function (t) { windowTip(t, w); }); });
      g.addEventListener('mouseleave', hideTip);
      s.appendChild(g);
      if (wi % every === 0 || wi === n - 1) {
        var lab = svg('text', { x: x0 + cw / 2, y: H - 8, 'text-anchor': 'middle' });
        lab.textContent = fmtTime(w.end);
        var ax = svg('g', { 'class': 'axis' });
        ax.appendChild(lab);
        s.appendChild(ax);
      }
    });
    box.appendChild(s);
    highlightSeries();
  }
  function windowTip(t, w) {
    var h = data.history;
    t.appendChild(el('div', 't', fmtTime(w.start) + '–' + fmtTime(w.end) + ' · ' + fmtInt(w.samples) + ' samples'));
    var order = w.shares.map(function (v, i) { return [v, i]; }).filter(function (e) { return e[0] > 0; }).sort(function (a, b) { return b[0] - a[0]; });
    var tb = el('table');
    order.slice(0, 14).forEach(function (e) {
      var sr = h.series[e[1]], tr = el('tr'), td = el('td');
      var sw = el('span', 'swatch');
      sw.style.background = colorOf[sr.key];
      td.appendChild(sw);
      td.appendChild(document.createTextNode(labelOf(sr.key, sr.tags)));
      tr.appendChild(td);
      tr.appendChild(el('td', 'num', pct(e[0])));
      tb.appendChild(tr);
    });
    t.appendChild(tb);
  }
  function renderLegend() {
    var box = $('legend');
    box.textContent = '';
    var h = data.history, last = h.windows[h.windows.length - 1];
    h.series.forEach(function (sr, i) {
      var b = el('button');
      b.type = 'button';
      b.setAttribute('data-key', sr.key);
      var sw = el('span', 'swatch');
      sw.style.background = colorOf[sr.key];
      b.appendChild(sw);
      b.appendChild(document.createTextNode(labelOf(sr.key, sr.tags)));
      if (last) b.appendChild(el('span', 'pct', pct(last.shares[i] || 0)));
      b.title = trees[sr.key] ? 'Show its flame graph' : 'No flame graph for this tag set in the latest window';
      b.addEventListener('click', function () { if (trees[sr.key]) selectFlame(sr.key, true); });
      b.addEventListener('mouseenter', function () { highlightSeries(sr.key); });
      b.addEventListener('mouseleave', function () { highlightSeries(); });
      box.appendChild(b);
    });
  }
  function highlightSeries(key) {
    var c = $('chart');
    var k = key !== undefined ? key : null;
    c.classList.toggle('dim', k !== null);
    c.querySelectorAll('rect.seg').forEach(function (r) { r.classList.toggle('on', r.getAttribute('data-key') === k); });
    $('legend').querySelectorAll('button').forEach(function (b) { b.classList.toggle('sel', b.getAttribute('data-key') === state.flame); });
  }

  // ---- table of the latest window ----
  function renderTable() {
    var l = data.latest, body = $('rows');
    body.textContent = '';
    // Request columns only when an integration counts requests.
    var counted = l.rows.some(function (r) { return r.requests !== undefined; });
    document.body.classList.toggle('no-requests', !counted);
    l.rows.forEach(function (r) {
      var tr = el('tr');
      tr.setAttribute('data-key', r.key);
      var c1 = el('td'), tagCell = el('div', 'tagset');
      var sw = el('span', 'swatch');
      sw.style.background = colorOf[r.key] || 'transparent';
      tagCell.appendChild(sw);
      tagCell.appendChild(chips(r.key, r.tags));
      c1.appendChild(tagCell);
      tr.appendChild(c1);
      var c2 = el('td'), share = el('div', 'share'), track = el('div', 'track'), fill = el('div', 'fill');
      fill.style.width = Math.min(100, r.percent * 100) + '%';
      track.appendChild(fill);
      share.appendChild(track);
      share.appendChild(el('span', 'n', pct(r.percent)));
      c2.appendChild(share);
      tr.appendChild(c2);
      tr.appendChild(el('td', 'num', '± ' + (r.error * 100).toFixed(1) + ' pt'));
      tr.appendChild(el('td', 'num', fmtMs(r.cpuMs)));
      tr.appendChild(el('td', 'num', fmtInt(r.samples)));
      tr.appendChild(el('td', 'num req', r.requests === undefined ? '–' : fmtInt(r.requests)));
      tr.appendChild(el('td', 'num req', r.requests ? fmtMs(r.cpuPerRequestMs) : '–'));
      var c6 = el('td', 'hot');
      r.hot.slice(0, 3).forEach(function (f) {
        var d = el('div');
        d.appendChild(document.createTextNode(f.name));
        var w = where(f.file, f.line);
        if (w) d.appendChild(el('span', 'where', ' ' + w));
        if (f.file) d.title = f.file + (f.line ? ':' + f.line : '');
        d.appendChild(el('span', 'p', pct(f.percent)));
        c6.appendChild(d);
      });
      if (r.hot.length === 0) c6.appendChild(el('span', 'where', '–'));
      tr.appendChild(c6);
      if (trees[r.key]) {
        tr.className = 'pick';
        tr.title = 'Show its flame graph';
        tr.addEventListener('click', function () { selectFlame(r.key, true); });
      }
      body.appendChild(tr);
    });
    if (l.more) {
      var tr = el('tr', 'more');
      tr.appendChild(el('td', null, '+ ' + fmtInt(l.more.tagSets) + ' more tag sets'));
      tr.appendChild(el('td', 'num', pct(l.more.percent)));
      tr.appendChild(el('td'));
      tr.appendChild(el('td', 'num', fmtMs(l.more.cpuMs)));
      tr.appendChild(el('td', 'num', fmtInt(l.more.samples)));
      tr.appendChild(el('td', 'num req'));
      tr.appendChild(el('td', 'num req'));
      tr.appendChild(el('td'));
      body.appendChild(tr);
    }
    if (l.rows.length === 0) {
      var e = el('tr'), td = el('td', 'empty', 'No CPU recorded in the latest window.');
      td.colSpan = 8;
      e.appendChild(td);
      body.appendChild(e);
    }
    $('table-note').textContent = '± is the 95% sampling interval of the share, 1.96·√(p(1−p)/N) with N = ' +
      fmtInt(l.effectiveSamples) + ', the effective count of the ' + fmtInt(l.busySamples) + ' busy samples (the window\'s samples that ran code; fewer when some samples carry much more CPU than others). Hottest functions: self CPU within the tag set. Click a row for its flame graph.';
  }

  // ---- flame graph ----
  function decodeTrees() {
    if (!data.flame) return;
    data.flame.trees.forEach(function (t) {
      var nodes = [], a = t.nodes, pos = 0;
      function read(parent, depth) {
        var n = { f: a[pos], v: a[pos + 1], kids: [], parent: parent, depth: depth, i: nodes.length };
        var count = a[pos + 2];
        pos += 3;
        nodes.push(n);
        for (var c = 0; c < count; c++) n.kids.push(read(n, depth + 1));
        return n;
      }
      read(null, 0);
      trees[t.key] = { key: t.key, totalUs: t.totalUs, dropped: t.droppedNodes, nodes: nodes };
    });
  }
  var rowByKey = {};
  function flameLabel(key) {
    var r = rowByKey[key];
    if (key === ALL) return labelOf(ALL, []);
    var label = labelOf(key, r ? r.tags : []);
    return r ? label + ' — ' + pct(r.percent) : label;
  }
  function renderFlameControls() {
    var sel = $('flame-select');
    sel.textContent = '';
    var keys = [];
    data.latest.rows.forEach(function (r) { if (trees[r.key]) keys.push(r.key); });
    if (trees[ALL]) keys.push(ALL);
    keys.forEach(function (k) {
      var o = el('option', null, flameLabel(k));
      o.value = k;
      sel.appendChild(o);
    });
    sel.addEventListener('change', function () { selectFlame(sel.value, false); });
    $('flame-search').addEventListener('input', function (e) { state.search = e.target.value.trim().toLowerCase(); renderFlame(); });
    $('flame-reset').addEventListener('click', function () { state.zoom = 0; renderFlame(); });
  }
  function selectFlame(key, scroll) {
    if (!trees[key]) return;
    state.flame = key;
    state.zoom = 0;
    $('flame-select').value = key;
    writeHash();
    renderFlame();
    document.querySelectorAll('#rows tr').forEach(function (tr) { tr.classList.toggle('sel', tr.getAttribute('data-key') === key); });
    highlightSeries();
    if (scroll) $('flame-panel').scrollIntoView({ behavior: 'smooth', block: 'start' });
  }
  function frameColor(f) {
    var name = f[0], file = f[1], hsh = 0;
    for (var i = 0; i < name.length; i++) hsh = (hsh * 31 + name.charCodeAt(i)) | 0;
    var j = Math.abs(hsh) % 1000 / 1000;
    if (!file) return 'hsl(' + (255 + j * 25) + ', 30%, ' + (78 + j * 8) + '%)';
    if (/^node:/.test(file)) return 'hsl(' + (200 + j * 20) + ', 45%, ' + (72 + j * 10) + '%)';
    if (/[\\/]node_modules[\\/]/.test(file)) return 'hsl(' + (140 + j * 30) + ', 40%, ' + (66 + j * 12) + '%)';
    return 'hsl(' + (18 + j * 30) + ', 88%, ' + (58 + j * 12) + '%)';
  }
  function renderFlame() {
    var box = $('flame'), info = $('flame-info');
    box.textContent = '';
    var t = state.flame !== null ? trees[state.flame] : null;
    if (!t) {
      info.textContent = '';
      box.style.height = 'auto';
      box.appendChild(el('div', 'empty', data.flame ? 'No stacks for this tag set in the latest window.' : 'No profile in this window.'));
      return;
    }
    var frames = data.flame.frames, root = t.nodes[0];
    var zoom = t.nodes[state.zoom] || root;
    var totalV = root.v || 1;
    var chain = [];
    for (var p = zoom.parent; p; p = p.parent) chain.unshift(p);
    var maxDepth = 0, matchedV = 0, boxWidth = box.clientWidth || 1000;
    var search = state.search;
    box.classList.toggle('searching', search !== '');
    function name(n) { return n.f < 0 ? flameLabel(t.key).replace(/ — .*$/, '') : frames[n.f][0]; }
    function add(n, left, width, depth, cls) {
      if (depth > maxDepth) maxDepth = depth;
      var d = el('div', 'fr' + (cls ? ' ' + cls : ''));
      d.style.left = (left * 100) + '%';
      d.style.width = 'calc(' + (width * 100) + '% - 1px)';
      d.style.top = (depth * ROW_H) + 'px';
      if (n.f < 0) d.classList.add('root');
      else d.style.background = frameColor(frames[n.f]);
      // Text only where a few characters fit: a single letter and an ellipsis read as noise.
      if (width * boxWidth > 34) d.textContent = name(n);
      d.setAttribute('data-name', name(n));
      if (search && n.f >= 0 && frames[n.f][0].toLowerCase().indexOf(search) >= 0) d.classList.add('match');
      d.addEventListener('click', function (e) { e.stopPropagation(); state.zoom = n.i; renderFlame(); });
      d.addEventListener('mousemove', function (ev) { showTip(ev, function (tt) { frameTip(tt, n, t); }); });
      d.addEventListener('mouseleave', hideTip);
      box.appendChild(d);
    }
    chain.forEach(function (n, i) { add(n, 0, 1, i, 'anc'); });
    var base = chain.length;
    var minW = 0.0015;
    function walk(n, left, width, depth, insideMatch) {
      add(n, left, width, depth, '');
      var isMatch = search && n.f >= 0 && frames[n.f][0].toLowerCase().indexOf(search) >= 0;
      if (isMatch && !insideMatch) matchedV += n.v;
      var x = left;
      n.kids.forEach(function (c) {
        var w = width * c.v / (n.v || 1);
        if (w >= minW) walk(c, x, w, depth + 1, insideMatch || isMatch);
        else if (search && !(insideMatch || isMatch)) matchedV += matchedIn(c, search);
        x += w;
      });
    }
    walk(zoom, 0, 1, base, false);
    box.style.height = ((maxDepth + 1) * ROW_H + 2) + 'px';
    var parts = [flameLabel(t.key).replace(/ — .*$/, '') + ': ' + fmtMs(t.totalUs / 1000) + ' CPU in the latest window'];
    if (zoom !== root) parts.push('zoomed on ' + name(zoom) + ' (' + pct(zoom.v / totalV) + ')');
    if (search) parts.push('"' + state.search + '" matches ' + pct(matchedV / totalV) + ' of it');
    if (t.dropped > 0) parts.push(fmtInt(t.dropped) + ' small nodes merged into their callers (node cap)');
    info.textContent = parts.join(' · ');
  }
  function matchedIn(n, search) {
    var s = 0;
    if (n.f >= 0 && data.flame.frames[n.f][0].toLowerCase().indexOf(search) >= 0) return n.v;
    n.kids.forEach(function (c) { s += matchedIn(c, search); });
    return s;
  }
  function frameTip(t, n, tree) {
    var frames = data.flame.frames;
    var self = n.v;
    n.kids.forEach(function (c) { self -= c.v; });
    var total = tree.nodes[0].v || 1;
    if (n.f < 0) {
      t.appendChild(el('div', 't', flameLabel(tree.key)));
    } else {
      var f = frames[n.f];
      t.appendChild(el('div', 't', f[0]));
      var w = f[1] ? f[1].replace(/^file:\/\//, '') + (f[2] ? ':' + f[2] : '') : '(runtime)';
      t.appendChild(el('div', 'm', w));
    }
    t.appendChild(el('div', null, 'CPU ' + fmtMs(n.v / 1000) + ' · ' + pct(n.v / total) + ' of the tag set'));
    t.appendChild(el('div', null, 'self ' + fmtMs(Math.max(0, self) / 1000) + ' · ' + pct(Math.max(0, self) / total)));
  }

  // ---- start ----
  data.latest.rows.forEach(function (r) { rowByKey[r.key] = r; });
  assignColors();
  decodeTrees();
  renderMeta();
  renderSummary();
  renderChart();
  renderLegend();
  renderTable();
  renderFlameControls();
  var h = readHash();
  var auto = $('auto-reload');
  auto.checked = h.reload === '1';
  auto.addEventListener('change', function () { writeHash(); scheduleReload(); });
  function scheduleReload() {
    if (auto.checked) setTimeout(function () { if (auto.checked) location.reload(); }, Math.max(2000, data.windowMs + 500));
  }
  scheduleReload();
  var first = null;
  if (h.flame !== undefined && trees[h.flame]) first = h.flame;
  else {
    for (var i = 0; i < data.latest.rows.length && first === null; i++) {
      var k = data.latest.rows[i].key;
      if (k !== '' && trees[k]) first = k;
    }
    if (first === null && trees[ALL]) first = ALL;
  }
  if (first !== null) selectFlame(first, false); else renderFlame();
  var resizeTimer = 0;
  window.addEventListener('resize', function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () { renderChart(); renderFlame(); }, 120);
  });
})();
`;
