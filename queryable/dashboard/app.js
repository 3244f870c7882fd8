// actorserve dashboard: polls the node's JSON API and draws the cluster's
// members, a live models table and per-model charts. Plain browser
// JavaScript, no dependencies, no build step.
(function () {
  'use strict';

  var POLL_MS = 2000;
  var PAGE_SIZE = 100; // models per page: the API pages by id, each node sending only its part
  var SPARK_SAMPLES = 31; // one minute of 2 s polls
  var SVGNS = 'http://www.w3.org/2000/svg';

  var state = {
    list: null,        // last GET /v1/models answer
    cluster: null,     // last GET /v1/cluster answer
    detail: null,      // last GET /v1/models/{id} answer
    history: null,     // last GET /v1/models/{id}/history answer
    selected: null,    // selected model id
    sort: { key: 'id', dir: 1 },
    filter: '',
    cursor: '',        // cursor of the page shown ('' = the first)
    offset: 0,         // models before the page shown
    back: [],          // {cursor, offset} of the pages before, for "previous"
    samples: {},       // model id -> [{t, usage}] for the table sparklines
    trend: {},         // model id -> {at, points} of its history, served by the node hosting it
    lastOK: 0,
    seq: 0,
    timer: 0
  };

  // ---------- small helpers ----------

  function $(id) { return document.getElementById(id); }

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    setAttrs(e, attrs);
    append(e, children);
    return e;
  }

  function svg(tag, attrs, children) {
    var e = document.createElementNS(SVGNS, tag);
    setAttrs(e, attrs);
    append(e, children);
    return e;
  }

  function setAttrs(e, attrs) {
    if (!attrs) return;
    Object.keys(attrs).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k === 'text') e.textContent = v;
      else if (k === 'cls') e.setAttribute('class', v);
      else e.setAttribute(k, v === true ? '' : String(v));
    });
  }

  // fill replaces e's children, skipping null and false entries.
  function fill(e) {
    var kids = Array.prototype.slice.call(arguments, 1).filter(function (c) { return c !== null && c !== undefined && c !== false; });
    e.replaceChildren.apply(e, kids);
  }

  function append(e, children) {
    if (children === null || children === undefined) return;
    if (!Array.isArray(children)) children = [children];
    children.forEach(function (c) {
      if (c === null || c === undefined || c === false) return;
      e.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
    });
  }

  // A node that needs a bearer token is opened as /#token=SECRET: the
  // token is kept for this tab only and taken out of the address bar.
  var token = null;
  try {
    var m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
    if (m) {
      sessionStorage.setItem('actorserve-token', decodeURIComponent(m[1]));
      history.replaceState(null, '', location.pathname + location.search);
    }
    token = sessionStorage.getItem('actorserve-token');
  } catch (e) { /* storage disabled: no token */ }

  function getJSON(path) {
    var headers = { Accept: 'application/json' };
    if (token) headers.Authorization = 'Bearer ' + token;
    return fetch(path, { headers: headers, cache: 'no-store' }).then(function (r) {
      return r.json().catch(function () { return null; }).then(function (body) {
        if (!r.ok) {
          var err = new Error((body && body.error) || (r.status + ' ' + r.statusText));
          err.status = r.status;
          err.code = body && body.code;
          throw err;
        }
        return body;
      });
    });
  }

  function isNum(v) { return typeof v === 'number' && isFinite(v); }

  // ---------- formatting ----------

  var intFmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

  function fmtInt(n) { return isNum(n) ? intFmt.format(n) : '–'; }

  function fmtCompact(n) {
    if (!isNum(n)) return '–';
    var a = Math.abs(n);
    if (a < 100000) return intFmt.format(n);
    if (a < 1e6) return (n / 1e3).toFixed(1) + ' k';
    if (a < 1e9) return (n / 1e6).toFixed(a < 1e7 ? 2 : 1) + ' M';
    return (n / 1e9).toFixed(2) + ' G';
  }

  function fmtRate(r) {
    if (!isNum(r) || r <= 0) return '0';
    if (r < 1) return r.toFixed(2);
    if (r < 100) return r.toFixed(1);
    return intFmt.format(Math.round(r));
  }

  // fmtDur formats a duration given in milliseconds with a unit that keeps
  // two or three significant digits (sub-millisecond models are common).
  function fmtDur(ms) {
    if (!isNum(ms) || ms <= 0) return '–';
    if (ms < 0.001) return (ms * 1e6).toFixed(0) + ' ns';
    if (ms < 0.01) return (ms * 1e3).toFixed(2) + ' µs';
    if (ms < 1) return (ms * 1e3).toFixed(ms < 0.1 ? 1 : 0) + ' µs';
    if (ms < 10) return ms.toFixed(2) + ' ms';
    if (ms < 1000) return ms.toFixed(ms < 100 ? 1 : 0) + ' ms';
    return (ms / 1000).toFixed(2) + ' s';
  }

  // trimZeros drops the trailing zeros of an axis label: "5.00 µs" -> "5 µs".
  function trimZeros(text) {
    return text.replace(/(\.\d*?)0+(?=\D|$)/, '$1').replace(/\.(?=\D|$)/, '');
  }

  function fmtSeconds(s) {
    if (!isNum(s) || s < 0) return '–';
    s = Math.floor(s);
    var d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
    if (d > 0) return d + 'd ' + h + 'h';
    if (h > 0) return h + 'h ' + m + 'm';
    if (m > 0) return m + 'm ' + (s % 60) + 's';
    return s + 's';
  }

  function parseTime(t) {
    if (!t) return NaN;
    var ms = Date.parse(t);
    return isFinite(ms) && ms > Date.UTC(1971, 0, 1) ? ms : NaN;
  }

  // fmtAgo is a coarse relative time: "just now", "42s ago", "7m ago".
  function fmtAgo(t) {
    var ms = parseTime(t);
    if (!isFinite(ms)) return '–';
    var s = Math.max(0, (Date.now() - ms) / 1000);
    if (s < 2) return 'just now';
    if (s < 60) return Math.floor(s) + 's ago';
    if (s < 3600) return Math.floor(s / 60) + 'm ago';
    if (s < 86400) return Math.floor(s / 3600) + 'h ' + Math.floor(s % 3600 / 60) + 'm ago';
    return Math.floor(s / 86400) + 'd ago';
  }

  function fmtSince(t) {
    var ms = parseTime(t);
    return isFinite(ms) ? fmtSeconds(Math.max(0, (Date.now() - ms) / 1000)) : '–';
  }

  function fmtClock(ms) {
    var d = new Date(ms);
    return pad(d.getHours()) + ':' + pad(d.getMinutes());
  }

  function pad(n) { return n < 10 ? '0' + n : String(n); }

  // Accuracy-like values arrive as fractions (0.93); show them as percent.
  function fmtPct(v) {
    if (!isNum(v)) return '–';
    if (v <= 1) v *= 100;
    return v.toFixed(1) + ' %';
  }

  // ---------- online-learning block (present on online models only) ----------

  function learning(m) {
    var l = m && m.learning;
    return l && typeof l === 'object' ? l : null;
  }

  function isRegression(l) {
    return l.task === 'regression' || (isNum(l.mae) && l.mae > 0 && !l.accuracy);
  }

  // accuracyOf is the accuracy column's value: classifiers only (a
  // regression model reports its MAE instead).
  function accuracyOf(m) {
    var l = learning(m);
    if (!l || isRegression(l)) return undefined;
    return isNum(l.accuracy) ? l.accuracy : undefined;
  }

  // A history point carries a drift when the learner flagged one in that
  // minute; tolerate any of the plausible field shapes, or none.
  function pointDrift(p) {
    if (!p) return false;
    if (p.drift === true) return true;
    if (isNum(p.drifts) && p.drifts > 0) return true;
    if (Array.isArray(p.drifts) && p.drifts.length > 0) return true;
    return false;
  }

  // ---------- models table ----------

  var COLS = [
    { key: 'id', label: 'Model', text: true },
    { key: 'state', label: 'State', text: true },
    { key: 'node', label: 'Node', text: true, secondary: true },
    { key: 'usage', label: 'Events', num: true },
    { key: 'rate_1m', label: 'Rate/s', num: true, title: 'events per second over the last minute' },
    { key: 'trend', label: 'Trend', spark: true, title: 'events per second, per minute over the last 15 minutes (from the model\'s history)' },
    { key: 'errors', label: 'Errors', num: true },
    { key: 'p50_ms', label: 'p50', num: true, title: 'median scoring latency', secondary: true },
    { key: 'p99_ms', label: 'p99', num: true, title: '99th percentile scoring latency' },
    { key: 'mailbox', label: 'Queue', num: true, title: 'requests waiting in the actor\'s mailbox', secondary: true },
    { key: 'accuracy', label: 'Accuracy', num: true, learning: true, get: accuracyOf }
  ];

  function colValue(c, m) { return c.get ? c.get(m) : m[c.key]; }

  function visibleCols(models) {
    var anyLearning = models.some(function (m) { return learning(m) !== null; });
    return COLS.filter(function (c) { return !c.learning || anyLearning; });
  }

  function renderHead(cols) {
    var tr = document.querySelector('#models thead tr');
    var sig = cols.map(function (c) { return c.key; }).join(',') + '|' + state.sort.key + state.sort.dir;
    if (tr.getAttribute('data-sig') === sig) return;
    tr.setAttribute('data-sig', sig);
    tr.replaceChildren();
    cols.forEach(function (c) {
      var th = el('th', {
        cls: ((c.num ? 'num' : '') + (c.secondary ? ' secondary' : '')).trim() || null, title: c.title, 'data-key': c.key,
        tabindex: c.spark ? null : '0',
        'aria-sort': state.sort.key === c.key ? (state.sort.dir > 0 ? 'ascending' : 'descending') : null
      }, c.label);
      if (!c.spark) {
        th.addEventListener('click', function () { sortBy(c); });
        th.addEventListener('keydown', function (e) { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); sortBy(c); } });
      }
      tr.appendChild(th);
    });
  }

  function sortBy(c) {
    if (state.sort.key === c.key) state.sort.dir = -state.sort.dir;
    else state.sort = { key: c.key, dir: c.text ? 1 : -1 };
    save();
    renderModels();
  }

  function compare(c, dir) {
    return function (a, b) {
      var va = colValue(c, a), vb = colValue(c, b);
      var na = va === undefined || va === null || va === '', nb = vb === undefined || vb === null || vb === '';
      if (na !== nb) return na ? 1 : -1; // missing values last either way
      var r = 0;
      if (!na) r = c.text ? String(va).localeCompare(String(vb)) : va - vb;
      if (r === 0) return a.id.localeCompare(b.id);
      return r * dir;
    };
  }

  function matches(m, terms) {
    if (terms.length === 0) return true;
    var hay = [m.id, m.node, m.state, m.format, m.description, 'v' + m.version].join(' ').toLowerCase();
    return terms.every(function (t) { return hay.indexOf(t) >= 0; });
  }

  function recordSamples(models) {
    var now = Date.now(), seen = {};
    models.forEach(function (m) {
      seen[m.id] = true;
      var s = state.samples[m.id] || (state.samples[m.id] = []);
      s.push({ t: now, usage: m.usage || 0 });
      if (s.length > SPARK_SAMPLES) s.shift();
    });
    Object.keys(state.samples).forEach(function (id) { if (!seen[id]) delete state.samples[id]; });
  }

  // The trend of the table: the events per minute of the last
  // TREND_MINUTES from the model's history, which the node hosting it
  // serves, so the trend is there on load; until that arrives, the rates
  // between this page's polls.
  var TREND_MINUTES = 15, TREND_REFRESH_MS = 60000, TREND_FETCHES = 8;

  function refreshTrends(models) {
    var now = Date.now(), started = 0;
    models.forEach(function (m) {
      var tr = state.trend[m.id];
      if (m.state === 'inactive' || started >= TREND_FETCHES || (tr && (tr.loading || now - tr.at < TREND_REFRESH_MS))) return;
      started++;
      state.trend[m.id] = { at: now, points: tr ? tr.points : null, loading: true };
      getJSON('/v1/models/' + encodeURIComponent(m.id) + '/history').then(function (h) {
        state.trend[m.id] = { at: Date.now(), points: (h && h.points) || [] };
      }, function () {
        state.trend[m.id] = { at: Date.now(), points: tr ? tr.points : null };
      });
    });
  }

  function trendRates(id) {
    var tr = state.trend[id];
    if (!tr || !tr.points || tr.points.length === 0) return null;
    var last = Math.floor(Date.now() / 60000), byMin = {};
    tr.points.forEach(function (p) { byMin[Math.floor(parseTime(p.minute) / 60000)] = p.rate; });
    var rates = [];
    for (var m = last - TREND_MINUTES + 1; m <= last; m++) rates.push(byMin[m] || 0);
    return rates;
  }

  function sparkline(id) {
    var rates = trendRates(id), source = 'history';
    var n = TREND_MINUTES;
    if (!rates) {
      source = 'polls';
      n = SPARK_SAMPLES - 1;
      rates = [];
      var s = state.samples[id] || [];
      for (var i = 1; i < s.length; i++) {
        var dt = (s[i].t - s[i - 1].t) / 1000;
        rates.push(dt > 0 ? Math.max(0, s[i].usage - s[i - 1].usage) / dt : 0);
      }
    }
    var w = 64, h = 18;
    var max = Math.max.apply(null, rates.concat([0]));
    var e = svg('svg', { cls: 'spark', viewBox: '0 0 ' + w + ' ' + h, 'aria-hidden': 'true', 'data-samples': rates.length, 'data-source': source });
    if (rates.length < 2 || max <= 0) {
      e.appendChild(svg('polyline', { points: '0,' + (h - 1) + ' ' + w + ',' + (h - 1), opacity: '.35' }));
      return e;
    }
    var x0 = w - (rates.length - 1) * (w / (n - 1));
    var pts = rates.map(function (r, i) {
      return (x0 + i * w / (n - 1)).toFixed(1) + ',' + (h - 1 - r / max * (h - 3)).toFixed(1);
    });
    e.appendChild(svg('path', { d: 'M' + x0.toFixed(1) + ',' + h + ' L' + pts.join(' L') + ' L' + w + ',' + h + ' Z' }));
    e.appendChild(svg('polyline', { points: pts.join(' ') }));
    return e;
  }

  function badge(s) { return el('span', { cls: 'badge ' + s }, s); }

  function renderModels() {
    var list = state.list;
    if (!list) return;
    var models = list.models || [];
    var cols = visibleCols(models);
    renderHead(cols);
    var sortCol = cols.filter(function (c) { return c.key === state.sort.key; })[0] || cols[0];
    var terms = state.filter.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = models.filter(function (m) { return matches(m, terms); }).sort(compare(sortCol, state.sort.dir));
    var total = typeof list.total === 'number' ? list.total : models.length;
    var range = models.length === 0 ? '0' : fmtInt(state.offset + 1) + '–' + fmtInt(state.offset + models.length);
    $('models-count').textContent = (terms.length ? shown.length + ' matching of ' : '') + range + ' of ' + fmtInt(total);
    $('page-prev').disabled = state.back.length === 0;
    $('page-next').disabled = !list.next;

    var tbody = document.querySelector('#models tbody');
    var rows = shown.map(function (m) {
      var tr = el('tr', {
        'data-id': m.id, 'data-usage': m.usage || 0, 'data-state': m.state,
        cls: m.id === state.selected ? 'selected' : null, tabindex: '0'
      });
      cols.forEach(function (c) {
        var td = cell(c, m);
        if (c.secondary) td.classList.add('secondary');
        tr.appendChild(td);
      });
      tr.addEventListener('click', function () { select(m.id); });
      tr.addEventListener('keydown', function (e) { if (e.key === 'Enter') select(m.id); });
      return tr;
    });
    if (rows.length === 0) {
      var text = models.length === 0
        ? 'No models deployed yet. Deploy one with PUT /v1/models/{id}.'
        : 'No model matches “' + state.filter + '”.';
      rows.push(el('tr', null, el('td', { cls: 'empty-row', colspan: cols.length }, text)));
    }
    tbody.replaceChildren.apply(tbody, rows);
  }

  function cell(c, m) {
    var v = colValue(c, m);
    switch (c.key) {
      case 'id':
        return el('td', { cls: 'id', title: m.description || null }, [m.id, el('span', { cls: 'fmt' }, 'v' + m.version + ' · ' + m.format)]);
      case 'state':
        return el('td', null, badge(m.state));
      case 'node':
        return el('td', { cls: m.node ? null : 'zero', title: m.replicas ? 'replicas: ' + m.replicas.join(', ') : null },
          m.node ? m.node + (m.replicas && m.replicas.length > 1 ? ' +' + (m.replicas.length - 1) : '') : '–');
      case 'trend':
        return el('td', { cls: 'spark-cell' }, sparkline(m.id));
      case 'usage':
        return el('td', { cls: 'num' + (v ? '' : ' zero') }, fmtInt(v || 0));
      case 'rate_1m':
        return el('td', { cls: 'num' + (v ? '' : ' zero') }, fmtRate(v));
      case 'errors':
        return el('td', { cls: 'num' + (v ? ' bad' : ' zero'), title: reasons(m.errors_by_reason) || null }, fmtInt(v || 0));
      case 'p50_ms':
      case 'p99_ms':
        return el('td', { cls: 'num' + (m.usage ? '' : ' zero') }, m.usage ? fmtDur(v) : '–');
      case 'mailbox':
        return el('td', { cls: 'num' + (v ? '' : ' zero') }, fmtInt(v || 0));
      case 'accuracy': {
        var l = learning(m);
        if (l && isRegression(l)) return el('td', { cls: 'num', title: 'mean absolute error' }, 'MAE ' + fmtNum(l.mae));
        return el('td', { cls: 'num' + (isNum(v) ? '' : ' zero'), title: l && isNum(l.accuracy_recent) ? 'recent: ' + fmtPct(l.accuracy_recent) : null }, fmtPct(v).replace(' ', ''));
      }
    }
    return el('td', null, v === undefined ? '–' : String(v));
  }

  function reasons(by) {
    if (!by) return '';
    return Object.keys(by).sort().map(function (k) { return k + ': ' + fmtInt(by[k]); }).join(', ');
  }

  // ---------- header, totals, members ----------

  function renderTotals() {
    var list = state.list, cl = state.cluster;
    if (list) {
      var t = list.totals || {};
      $('t-models').textContent = fmtInt(t.models);
      $('t-models-sub').textContent = fmtInt(t.active) + ' active · ' + fmtInt(t.inactive) + ' inactive';
      $('t-usage').textContent = fmtCompact(t.usage);
      $('t-rate').textContent = fmtRate(t.rate_1m);
      $('t-errors').textContent = fmtCompact(t.errors);
      $('t-errors').classList.toggle('bad', t.errors > 0);
      $('t-errors-sub').textContent = t.usage > 0 ? (100 * t.errors / (t.usage + t.errors)).toFixed(2) + ' % of events' : 'no events yet';
    }
    if (cl) {
      var members = cl.members || [];
      var down = members.filter(function (m) { return m.status !== 'alive'; }).length;
      $('t-members').textContent = fmtInt(members.length);
      $('t-members-sub').textContent = down ? down + ' not answering' : 'all answering';
      $('node').textContent = 'node ' + cl.self;
      document.title = 'actorserve · ' + cl.self;
    }
    var missing = {};
    [list, cl].forEach(function (a) { if (a && a.partial) (a.missing || []).forEach(function (n) { missing[n] = true; }); });
    var names = Object.keys(missing).sort();
    var banner = $('partial');
    if (names.length) {
      banner.textContent = 'Partial answer: ' + names.join(', ') + (names.length > 1 ? ' did' : ' did') +
        ' not answer within the query deadline. Models hosted there may show as inactive until they re-activate.';
      banner.hidden = false;
    } else {
      banner.hidden = true;
    }
  }

  function renderMembers() {
    var cl = state.cluster;
    if (!cl) return;
    $('members-hint').textContent = 'as seen by ' + cl.self;
    var rows = (cl.members || []).slice().sort(function (a, b) { return a.name.localeCompare(b.name); }).map(function (m) {
      var parts = m.partitions || [];
      var chips;
      if (parts.length === 0) {
        chips = el('span', { cls: 'muted' }, m.status === 'alive' ? 'none' : '–');
      } else if (parts.length > 16) {
        chips = el('span', null, parts.length + ' partitions');
      } else {
        chips = el('span', { cls: 'parts' }, parts.slice().sort(function (a, b) {
          return a.topic.localeCompare(b.topic) || a.partition - b.partition;
        }).map(function (p) {
          var cls = 'part' + (p.paused ? ' paused' : p.lag > 0 ? ' lagging' : '');
          var title = p.topic + '/' + p.partition + ': lag ' + fmtInt(Math.max(0, p.lag)) + ', in flight ' + fmtInt(p.in_flight) + (p.paused ? ', paused' : '');
          return el('span', { cls: cls, title: title }, String(p.partition));
        }));
      }
      return el('tr', { 'data-member': m.name }, [
        el('td', null, [el('strong', null, m.name), m.self ? el('span', { cls: 'self-tag' }, 'this node') : null]),
        el('td', null, badge(m.status)),
        el('td', { cls: 'mono' }, m.http || '–'),
        el('td', { cls: 'num' }, fmtSeconds(m.uptime_s)),
        el('td', { cls: 'num' }, m.active_models === null || m.active_models === undefined ? '–' : fmtInt(m.active_models)),
        el('td', null, chips),
        el('td', { cls: 'num' + (m.lag > 0 ? '' : ' zero') }, fmtInt(m.lag || 0))
      ]);
    });
    var tbody = document.querySelector('#members tbody');
    tbody.replaceChildren.apply(tbody, rows);
  }

  // ---------- detail panel ----------

  function select(id) {
    state.selected = id;
    state.detail = null;
    state.history = null;
    try { history.replaceState(null, '', '#model=' + encodeURIComponent(id)); } catch (e) { /* file: or sandboxed */ }
    renderModels();
    renderDetail();
    refreshDetail();
  }

  function closeDetail() {
    state.selected = null;
    try { history.replaceState(null, '', location.pathname); } catch (e) { /* ignore */ }
    renderModels();
    renderDetail();
  }

  function refreshDetail() {
    var id = state.selected;
    if (!id) return Promise.resolve();
    var seq = ++state.seq;
    var base = '/v1/models/' + encodeURIComponent(id);
    return Promise.allSettled([getJSON(base), getJSON(base + '/history')]).then(function (r) {
      if (seq !== state.seq || id !== state.selected) return;
      if (r[0].status === 'fulfilled') state.detail = r[0].value;
      else state.detail = { id: id, error: r[0].reason };
      state.history = r[1].status === 'fulfilled' ? r[1].value : null;
      renderDetail();
    });
  }

  function stat(label, value, cls, title) {
    return el('div', { title: title || null }, [el('dt', null, label), el('dd', { cls: cls || null }, value)]);
  }

  var LEARNING_SHOWN = ['algorithm', 'task', 'accuracy', 'accuracy_recent', 'kappa', 'mae', 'mae_recent',
    'labels', 'updates', 'drifts', 'last_drift', 'label_lag_ms'];

  function fmtNum(v) {
    if (!isNum(v)) return '–';
    if (Number.isInteger(v) || Math.abs(v) >= 1000) return fmtInt(v);
    return Math.abs(v) >= 10 ? v.toFixed(1) : v.toPrecision(3);
  }

  function learningStats(l) {
    var items = [];
    if (isRegression(l)) {
      items.push(stat('MAE', fmtNum(l.mae)), stat('MAE recent', fmtNum(l.mae_recent)));
    } else {
      items.push(stat('Accuracy', fmtPct(l.accuracy)),
        stat('Recent', fmtPct(l.accuracy_recent), null, 'accuracy over the recent window'),
        stat('Kappa', isNum(l.kappa) ? l.kappa.toFixed(3) : '–'));
    }
    items.push(stat('Labels', fmtInt(l.labels)));
    if (l.algorithm || isNum(l.updates) && l.updates > 0) items.push(stat('Updates', fmtInt(l.updates)));
    items.push(stat('Drifts', fmtInt(l.drifts || 0), l.drifts > 0 ? 'bad' : null),
      stat('Last drift', fmtAgo(l.last_drift)));
    if (isNum(l.label_lag_ms)) items.push(stat('Label lag', fmtDur(l.label_lag_ms), null, 'mean time from prediction to its label'));
    // Whatever else the learner reports, when it says something.
    Object.keys(l).sort().forEach(function (k) {
      if (LEARNING_SHOWN.indexOf(k) >= 0) return;
      var v = l[k], label = k.replace(/_/g, ' ');
      if (isNum(v) && v !== 0) items.push(stat(label, /_ms$/.test(k) ? fmtDur(v) : fmtNum(v)));
      else if (typeof v === 'string' && v && v.length <= 40) items.push(stat(label, isFinite(parseTime(v)) ? fmtAgo(v) : v));
    });
    return items;
  }

  function renderDetail() {
    var id = state.selected;
    $('detail-empty').hidden = !!id;
    $('detail-body').hidden = !id;
    if (!id) return;
    var d = state.detail;
    $('d-title').textContent = id;
    var meta = $('d-meta');
    var alert = $('d-alert');
    if (!d) {
      meta.replaceChildren(el('span', { cls: 'muted' }, 'loading…'));
      return;
    }
    if (d.error) {
      meta.replaceChildren();
      alert.textContent = d.error.status === 404 ? 'Model “' + id + '” is not deployed (any more).' : 'Cannot load model: ' + d.error.message;
      alert.hidden = false;
      $('d-stats').replaceChildren();
      $('d-learning').hidden = true;
      drawCharts(null);
      return;
    }
    fill(meta, badge(d.state), el('span', null, 'v' + d.version), el('span', null, d.format),
      d.node ? el('span', null, 'on ' + d.node) : null,
      d.variant ? el('span', { cls: 'badge ' + (d.variant.role || 'variant') }, (d.variant.role || 'variant') + ' v' + d.variant.version) : null,
      d.replicas && d.replicas.length > 1 ? el('span', { title: 'double activation during membership churn' }, 'replicas ' + d.replicas.join(', ')) : null);
    var desc = $('d-desc');
    desc.textContent = d.description || '';
    desc.hidden = !d.description;
    if (d.last_error) {
      alert.textContent = 'Last error: ' + d.last_error;
      alert.hidden = false;
    } else {
      alert.hidden = true;
    }
    var used = d.usage > 0;
    var reason = reasons(d.errors_by_reason);
    $('d-stats').replaceChildren(
      stat('Events', fmtInt(d.usage)),
      stat('Rate/s', fmtRate(d.rate_1m)),
      stat('Errors', fmtInt(d.errors), d.errors ? 'bad' : null, reason),
      stat('Mailbox', fmtInt(d.mailbox)),
      stat('Mean', used ? fmtDur(d.mean_ms) : '–'),
      stat('p50', used ? fmtDur(d.p50_ms) : '–'),
      stat('p95', used ? fmtDur(d.p95_ms) : '–'),
      stat('p99', used ? fmtDur(d.p99_ms) : '–'),
      stat('Min', used ? fmtDur(d.min_ms) : '–'),
      stat('Max', used ? fmtDur(d.max_ms) : '–'),
      stat('Active for', d.state === 'inactive' ? '–' : fmtSince(d.since)),
      stat('Last used', fmtAgo(d.last_used))
    );
    var l = learning(d);
    $('d-learning').hidden = !l;
    if (l) {
      $('d-learning-title').textContent = l.algorithm ? 'Online learning · ' + l.algorithm + (l.task ? ' · ' + l.task : '') : 'Feedback';
      $('d-learning-stats').replaceChildren.apply($('d-learning-stats'), learningStats(l));
    }
    renderVariant(d);
    var foot = [];
    if (d.previous) {
      var p = d.previous;
      foot.push('Previous version v' + p.version + ': ' + fmtInt(p.usage) + ' events, ' + fmtInt(p.errors) + ' errors, p99 ' + fmtDur(p.p99_ms) + '.');
    }
    var h = state.history;
    if (h && h.partial && h.missing) foot.push('History is partial: ' + h.missing.join(', ') + ' did not answer.');
    if (d.partial && d.missing) foot.push('Stats are partial: ' + d.missing.join(', ') + ' did not answer.');
    if (d.state === 'inactive') foot.push('No actor is active for this model; its history starts when it next receives an event.');
    $('d-foot').textContent = foot.join(' ');
    drawCharts(h, d);
  }

  // The shadow or canary beside the current version, judged on the same
  // events and labels, and the lifecycle decisions (newest first).
  function renderVariant(d) {
    var v = d.variant, desc = d.descriptor || {};
    $('d-variant').hidden = !v;
    if (v) {
      var mode = v.role || 'variant';
      $('d-variant-title').textContent = (mode === 'canary' ? 'Canary' : 'Shadow') + ' · v' + v.version +
        (mode === 'canary' && isNum(v.weight) ? ' · ' + Math.round(v.weight * 1000) / 10 + '% of keys' : '');
      var items = [
        stat('Events', fmtInt(v.usage)),
        stat('Served', fmtInt(v.served || 0), null, 'events whose answer the variant gave'),
        stat('Agreement', isNum(v.agreement) && v.compared ? fmtPct(v.agreement) : '–', null,
          fmtInt(v.agreed || 0) + ' of ' + fmtInt(v.compared || 0) + ' events answered alike'),
        stat('Errors', fmtInt(v.errors), v.errors ? 'bad' : null),
        stat('p99', v.usage > 0 ? fmtDur(v.p99_ms) : '–')
      ];
      var vl = v.learning, pl = learning(d);
      if (vl && vl.labels > 0) {
        if (isRegression(vl)) {
          items.push(stat('MAE', fmtNum(vl.mae_recent), null, 'current version: ' + (pl ? fmtNum(pl.mae_recent) : '–')));
        } else {
          var worse = pl && isNum(pl.accuracy_recent) && vl.accuracy_recent < pl.accuracy_recent;
          items.push(stat('Accuracy', fmtPct(vl.accuracy_recent), worse ? 'bad' : null,
            'current version on the same labels: ' + (pl ? fmtPct(pl.accuracy_recent) : '–')));
        }
        items.push(stat('Labels', fmtInt(vl.labels)));
      }
      $('d-variant-stats').replaceChildren.apply($('d-variant-stats'), items);
    }
    var ds = (desc.decisions || []).slice().reverse().slice(0, 6);
    $('d-decisions').hidden = ds.length === 0;
    $('d-decisions-list').replaceChildren.apply($('d-decisions-list'), ds.map(function (x) {
      var what = x.action.replace(/_/g, ' ') + (x.from ? ' v' + x.from : '') + (x.to ? ' → v' + x.to : '');
      return el('li', { title: x.at }, [el('b', null, what), ' ' + fmtAgo(x.at) + (x.by ? ' by ' + x.by : '') + (x.reason ? ': ' + x.reason : '')]);
    }));
  }

  // ---------- charts (SVG, drawn here) ----------

  function niceStep(raw) {
    var p = Math.pow(10, Math.floor(Math.log10(raw)));
    var f = raw / p;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * p;
  }

  function drawCharts(h, d) {
    var pts = (h && h.points ? h.points : []).map(function (p) {
      return Object.assign({}, p, { t: parseTime(p.minute) });
    }).filter(function (p) { return isFinite(p.t); }).sort(function (a, b) { return a.t - b.t; });
    var now = Date.now();
    var to = Math.max(Math.floor(now / 60000) * 60000 + 60000, pts.length ? pts[pts.length - 1].t + 60000 : 0);
    var first = pts.length ? pts[0].t : to;
    var span = Math.min(60, Math.max(10, Math.round((to - first) / 60000)));
    var win = { from: to - span * 60000, to: to, minutes: span };
    pts = pts.filter(function (p) { return p.t >= win.from; });

    var markers = pts.filter(pointDrift).map(function (p) { return p.t; });
    var l = learning(d);
    var ld = l ? parseTime(l.last_drift) : NaN;
    if (isFinite(ld) && ld >= win.from) markers.push(Math.floor(ld / 60000) * 60000);

    var id = d ? d.id : state.selected;
    chart($('c-throughput'), {
      name: 'throughput', model: id, points: pts, win: win, markers: markers,
      bars: [{ key: 'rate', cls: 'bar', label: 'events/s', fmt: fmtRate }],
      extra: function (p) { return fmtInt(p.events) + ' events' + (p.errors ? ', ' + fmtInt(p.errors) + ' errors' : ''); },
      yfmt: function (v) { return trimZeros(fmtRate(v)); }
    });
    chart($('c-latency'), {
      name: 'latency', model: id, points: pts.filter(function (p) { return p.events > 0; }), win: win, markers: markers,
      lines: [{ key: 'p50_ms', cls: 'p50', label: 'p50', fmt: fmtDur }, { key: 'p95_ms', cls: 'p95', label: 'p95', fmt: fmtDur },
        { key: 'p99_ms', cls: 'p99', label: 'p99', fmt: fmtDur }],
      yfmt: function (v) { return trimZeros(fmtDur(v)); }
    });
    var errs = pts.filter(function (p) { return p.events + p.errors > 0; }).map(function (p) {
      return Object.assign({}, p, { error_rate: p.errors / (p.events + p.errors) });
    });
    chart($('c-errors'), {
      name: 'errors', model: id, points: errs, win: win, markers: markers,
      lines: [{ key: 'error_rate', cls: 'p99', label: 'error rate', fmt: fmtPct }],
      extra: function (p) { return fmtInt(p.errors) + ' of ' + fmtInt(p.events + p.errors) + ' events failed'; },
      yfmt: function (v) { return trimZeros((v * 100).toFixed(v < 0.1 ? 1 : 0)) + '%'; }
    });
    // Accuracy (or mean absolute error) per minute on the labels scored in it.
    var acc = pts.filter(function (p) { return isNum(p.accuracy); });
    var mae = pts.filter(function (p) { return isNum(p.mae); });
    $('c-accuracy-box').hidden = acc.length === 0 && mae.length === 0;
    if (acc.length) {
      $('c-accuracy-title').textContent = 'Accuracy';
      chart($('c-accuracy'), {
        name: 'accuracy', model: id, points: acc, win: win, markers: markers, ymax: 1,
        lines: [{ key: 'accuracy', cls: 'acc', label: 'accuracy', fmt: fmtPct }],
        extra: function (p) { return fmtInt(p.labels) + ' labels'; },
        yfmt: function (v) { return Math.round(v * 100) + '%'; }
      });
    } else if (mae.length) {
      $('c-accuracy-title').textContent = 'Mean absolute error';
      chart($('c-accuracy'), {
        name: 'mae', model: id, points: mae, win: win, markers: markers,
        lines: [{ key: 'mae', cls: 'acc', label: 'MAE', fmt: fmtNum }],
        extra: function (p) { return fmtInt(p.labels) + ' labels'; },
        yfmt: function (v) { return trimZeros(fmtNum(v)); }
      });
    }
  }

  function chart(box, cfg) {
    var W = Math.max(200, box.clientWidth || 400), H = Math.max(80, box.clientHeight || 132);
    var M = { l: 46, r: 6, t: 8, b: 18 };
    var pw = W - M.l - M.r, ph = H - M.t - M.b;
    var pts = cfg.points;
    var keys = (cfg.bars || []).concat(cfg.lines || []);
    var max = 0;
    pts.forEach(function (p) { keys.forEach(function (k) { if (isNum(p[k.key])) max = Math.max(max, p[k.key]); }); });
    if (cfg.ymax) max = cfg.ymax;
    var step = niceStep(max > 0 ? max / 3 : 1);
    var ymax = cfg.ymax || Math.max(step, Math.ceil(max / step) * step);
    var slot = pw / cfg.win.minutes;
    function x(t) { return M.l + (t - cfg.win.from) / 60000 * slot; }
    function y(v) { return M.t + ph - v / ymax * ph; }

    var root = svg('svg', {
      viewBox: '0 0 ' + W + ' ' + H, role: 'img',
      'aria-label': cfg.name + ' of ' + cfg.model + ', ' + pts.length + ' minutes',
      'data-chart': cfg.name, 'data-model': cfg.model, 'data-points': pts.length, 'data-markers': cfg.markers.length
    });
    var axis = svg('g', { cls: 'axis' });
    for (var v = 0; v <= ymax + 1e-9; v += cfg.ymax ? ymax / 4 : step) {
      root.appendChild(svg('line', { cls: v === 0 ? 'baseline' : 'gridline', x1: M.l, x2: W - M.r, y1: y(v), y2: y(v) }));
      axis.appendChild(svg('text', { x: M.l - 6, y: y(v) + 3, 'text-anchor': 'end', text: v === 0 ? '0' : cfg.yfmt(v) }));
    }
    var every = [1, 2, 5, 10, 15, 30].filter(function (k) { return cfg.win.minutes / k <= 6; })[0] || 30;
    for (var t = cfg.win.from; t <= cfg.win.to; t += 60000) {
      if (Math.round(t / 60000) % every !== 0) continue;
      var anchor = x(t) > W - M.r - 16 ? 'end' : 'middle';
      axis.appendChild(svg('text', { x: anchor === 'end' ? W - M.r : x(t), y: H - 4, 'text-anchor': anchor, text: fmtClock(t) }));
    }
    root.appendChild(axis);

    cfg.markers.forEach(function (t) {
      var mx = x(t + 30000);
      root.appendChild(svg('line', { cls: 'drift', x1: mx, x2: mx, y1: M.t, y2: M.t + ph }));
      root.appendChild(svg('path', { cls: 'drift-mark', d: 'M' + (mx - 4) + ',' + M.t + ' L' + (mx + 4) + ',' + M.t + ' L' + mx + ',' + (M.t + 6) + ' Z' }));
    });

    (cfg.bars || []).forEach(function (b) {
      var bw = Math.max(2, Math.min(slot * 0.72, 28));
      pts.forEach(function (p) {
        var v = isNum(p[b.key]) ? p[b.key] : 0;
        var top = y(v);
        root.appendChild(svg('rect', {
          cls: b.cls + (p.errors > 0 && !p.events ? ' err' : ''), x: x(p.t + 30000) - bw / 2, y: top,
          width: bw, height: Math.max(v > 0 ? 1 : 0, M.t + ph - top), rx: Math.min(2, bw / 4)
        }));
      });
    });

    (cfg.lines || []).forEach(function (ln) {
      var seg = [], segs = [seg], prev = null;
      pts.forEach(function (p) {
        if (!isNum(p[ln.key])) return;
        if (prev !== null && p.t - prev > 60000) segs.push(seg = []);
        seg.push(x(p.t + 30000).toFixed(1) + ',' + y(Math.min(p[ln.key], ymax)).toFixed(1));
        prev = p.t;
      });
      segs.forEach(function (s) {
        if (s.length > 1) root.appendChild(svg('polyline', { cls: 'line ' + ln.cls, points: s.join(' ') }));
      });
      if (pts.length <= 30) {
        pts.forEach(function (p) {
          if (!isNum(p[ln.key])) return;
          root.appendChild(svg('circle', { cls: 'pt ' + ln.cls, cx: x(p.t + 30000), cy: y(Math.min(p[ln.key], ymax)), r: 2.6 }));
        });
      }
    });

    if (pts.length === 0) {
      root.appendChild(svg('text', { cls: 'nodata', x: M.l + pw / 2, y: M.t + ph / 2, 'text-anchor': 'middle', text: 'no events in the last hour' }));
    }

    // Hover: a guide line and the values of the nearest minute.
    var guide = svg('line', { cls: 'guide', y1: M.t, y2: M.t + ph, visibility: 'hidden' });
    root.appendChild(guide);
    var hit = svg('rect', { x: M.l, y: M.t, width: pw, height: ph, fill: 'transparent' });
    root.appendChild(hit);
    var tip = el('div', { cls: 'tip', hidden: true });
    hit.addEventListener('mousemove', function (e) {
      if (!pts.length) return;
      var r = root.getBoundingClientRect();
      var mx = (e.clientX - r.left) * W / r.width;
      var best = pts[0];
      pts.forEach(function (p) { if (Math.abs(x(p.t + 30000) - mx) < Math.abs(x(best.t + 30000) - mx)) best = p; });
      var gx = x(best.t + 30000);
      guide.setAttribute('x1', gx);
      guide.setAttribute('x2', gx);
      guide.setAttribute('visibility', 'visible');
      var lines = [el('div', null, el('strong', null, fmtClock(best.t)))];
      keys.forEach(function (k) { lines.push(el('div', null, k.label + ': ' + (isNum(best[k.key]) ? k.fmt(best[k.key]) : '–'))); });
      if (cfg.extra) lines.push(el('div', null, cfg.extra(best)));
      if (pointDrift(best)) lines.push(el('div', null, 'drift detected'));
      tip.replaceChildren.apply(tip, lines);
      tip.hidden = false;
      var left = gx / W * r.width;
      tip.style.left = (left > r.width / 2 ? left - tip.offsetWidth - 10 : left + 10) + 'px';
    });
    hit.addEventListener('mouseleave', function () { guide.setAttribute('visibility', 'hidden'); tip.hidden = true; });
    box.replaceChildren(root, tip);
  }

  // ---------- polling ----------

  function setStatus(kind, text) {
    $('status-box').className = 'status ' + kind;
    $('status').textContent = text;
  }

  function tick() {
    clearTimeout(state.timer);
    if (document.hidden) {
      state.timer = setTimeout(tick, POLL_MS);
      return;
    }
    var listURL = '/v1/models?limit=' + PAGE_SIZE + (state.cursor ? '&cursor=' + encodeURIComponent(state.cursor) : '');
    Promise.allSettled([getJSON(listURL), getJSON('/v1/cluster'), refreshDetail()]).then(function (r) {
      var errs = [];
      if (r[0].status === 'fulfilled') {
        state.list = r[0].value;
        recordSamples(state.list.models || []);
        refreshTrends(state.list.models || []);
      } else errs.push(r[0].reason);
      if (r[1].status === 'fulfilled') state.cluster = r[1].value;
      else errs.push(r[1].reason);
      renderTotals();
      renderMembers();
      renderModels();
      var now = new Date();
      if (errs.length === 0) {
        state.lastOK = now.getTime();
        var partial = (state.list && state.list.partial) || (state.cluster && state.cluster.partial);
        setStatus(partial ? 'warn' : 'ok', (partial ? 'partial · ' : 'live · ') + 'updated ' + now.toLocaleTimeString('en-GB'));
      } else {
        var since = state.lastOK ? ' (last update ' + fmtAgo(new Date(state.lastOK).toISOString()) + ')' : '';
        setStatus('err', 'cannot reach the node: ' + errs[0].message + since + ' · retrying');
      }
    }).finally(function () {
      state.timer = setTimeout(tick, POLL_MS);
    });
  }

  function save() {
    try { localStorage.setItem('actorserve.dashboard', JSON.stringify({ sort: state.sort, filter: state.filter })); } catch (e) { /* private mode */ }
  }

  function load() {
    try {
      var s = JSON.parse(localStorage.getItem('actorserve.dashboard') || '{}');
      if (s.sort && typeof s.sort.key === 'string' && (s.sort.dir === 1 || s.sort.dir === -1)) state.sort = s.sort;
      if (typeof s.filter === 'string') state.filter = s.filter;
    } catch (e) { /* ignore */ }
    var m = /^#model=(.+)$/.exec(location.hash);
    if (m) {
      try { state.selected = decodeURIComponent(m[1]); } catch (e) { state.selected = null; }
    }
  }

  function init() {
    load();
    var filter = $('filter');
    filter.value = state.filter;
    filter.addEventListener('input', function () { state.filter = filter.value; save(); renderModels(); });
    $('d-close').addEventListener('click', closeDetail);
    $('page-next').addEventListener('click', function () {
      var list = state.list;
      if (!list || !list.next) return;
      state.back.push({ cursor: state.cursor, offset: state.offset });
      state.cursor = list.next;
      state.offset += (list.models || []).length;
      tick();
    });
    $('page-prev').addEventListener('click', function () {
      var p = state.back.pop();
      if (!p) return;
      state.cursor = p.cursor;
      state.offset = p.offset;
      tick();
    });
    document.addEventListener('keydown', function (e) {
      if (e.key === 'Escape' && state.selected && document.activeElement !== filter) closeDetail();
      if (e.key === '/' && document.activeElement !== filter) { e.preventDefault(); filter.focus(); }
    });
    document.addEventListener('visibilitychange', function () { if (!document.hidden) tick(); });
    var resizeTimer = 0;
    window.addEventListener('resize', function () {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(function () { if (state.selected && state.detail) drawCharts(state.history, state.detail); }, 120);
    });
    renderDetail();
    tick();
  }

  init();
}());
