// The side-by-side pages: one script for all three. Each page is static;
// this asks for the same URL as JSON, with the token typed into the page,
// and builds the DOM from the answer. Every value from the answer is
// hostile input: it goes into the page through textContent and attributes
// only, never as markup.
(() => {
  "use strict";

  // sessionStorage only: the token lives as long as the tab, and never goes
  // into the URL, a cookie or localStorage, where it would outlive it.
  const TOKEN_KEY = "vnext-token";
  // A running task's timeline is asked for again this often: Nova is slow.
  const REFRESH_MS = 3000;
  // Longer compact JSON than this is shown one member a line.
  const LONG_JSON = 80;

  const page = document.body.dataset.page;
  const needsToken = page !== "coverage";
  const $ = (selector) => document.querySelector(selector);

  // ---- DOM building ------------------------------------------------------

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null) continue;
      if (key === "text") node.textContent = value;
      else if (key === "class") node.className = value;
      else if (key === "data") Object.assign(node.dataset, value);
      else node.setAttribute(key, value);
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function clear(node) {
    node.replaceChildren();
    return node;
  }

  // Strings as they are, everything else as compact JSON; null and the
  // empty string marked, so they are not mistaken for missing cells.
  function value(v) {
    if (v === null || v === undefined) return el("code", { class: "v null", text: "null" });
    if (v === "") return el("code", { class: "v empty", text: '""' });
    if (typeof v === "string") return el("code", { class: "v str", text: v });
    return el("code", { class: `v ${typeof v}`, text: compactJson(v) });
  }

  // Compact JSON; a long list or object gets one member a line, so a list
  // of Nova's events reads as a list.
  function compactJson(v) {
    const flat = JSON.stringify(v);
    if (flat.length <= LONG_JSON || v === null || typeof v !== "object") return flat;
    const members = Array.isArray(v) ? v.map((item) => JSON.stringify(item)) : Object.entries(v).map(([k, item]) => `${JSON.stringify(k)}:${JSON.stringify(item)}`);
    const [open, close] = Array.isArray(v) ? ["[", "]"] : ["{", "}"];
    return `${open}\n  ${members.join(",\n  ")}\n${close}`;
  }

  function muted(text) {
    return el("span", { class: "muted", text });
  }

  // Links from the answer stay on this proxy: a path, never another origin
  // or a javascript: URL.
  function localHref(href) {
    return typeof href === "string" && href.startsWith("/") && !href.startsWith("//") ? href : undefined;
  }

  // "mappings/servers.yaml:42" -> a link to that line of the served file.
  function declaredLink(declaredAt) {
    if (!declaredAt) return muted("—");
    const match = /^mappings\/([A-Za-z0-9_-]{1,64}\.yaml):(\d+)$/.exec(declaredAt);
    if (!match) return el("span", { class: "declared-at", text: declaredAt });
    return el("a", { class: "declared-at", href: `/_mappings/${match[1]}#L${match[2]}`, text: `${match[1]}:${match[2]}` });
  }

  function badge(text, kind, key = text) {
    return el("span", { class: `badge ${kind}-${String(key).toLowerCase()}`, text });
  }

  function definitions(pairs) {
    return el("dl", { class: "facts" }, pairs.map(([term, detail]) => [el("dt", { text: term }), el("dd", {}, detail)]));
  }

  // ---- state, token, errors -------------------------------------------------

  function setState(state) {
    document.body.dataset.state = state;
  }

  function storedToken() {
    return sessionStorage.getItem(TOKEN_KEY) || "";
  }

  function showError(error) {
    const box = clear($("#error"));
    box.append(el("strong", { text: error.title || "Error" }), " ", el("span", { class: "message", text: error.message }));
    if (error.requestId) box.append(el("div", { class: "request-id" }, "Request id ", el("code", { text: error.requestId })));
    box.hidden = false;
    clear($("#content"));
    setState("error");
  }

  class ApiError extends Error {
    constructor(message, title, requestId) {
      super(message);
      this.title = title;
      this.requestId = requestId;
    }
  }

  async function fetchJson(token) {
    const headers = { Accept: "application/json" };
    if (token) headers["X-Auth-Token"] = token;
    let response;
    try {
      response = await fetch(location.pathname, { headers, cache: "no-store", credentials: "omit" });
    } catch (failure) {
      throw new ApiError(`The proxy did not answer: ${failure.message}`, "No answer");
    }
    const headerId = response.headers.get("X-Openstack-Request-Id");
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      body = null;
    }
    if (response.ok && body !== null) return body;
    const problem = (body && body.error) || {};
    throw new ApiError(
      problem.message || `The proxy answered ${response.status} ${response.statusText}`,
      problem.title || `${response.status} ${response.statusText}`,
      problem.request_id || headerId,
    );
  }

  let refreshTimer = null;
  // Only the latest load may render: an earlier answer arriving late (the
  // stored token's, say, after a new one was typed) is dropped.
  let latestLoad = 0;

  async function load() {
    clearTimeout(refreshTimer);
    const thisLoad = ++latestLoad;
    const token = storedToken();
    $("#error").hidden = true;
    if (needsToken && !token) {
      clear($("#content"));
      setState("idle");
      return;
    }
    setState("loading");
    let data;
    try {
      data = await fetchJson(needsToken ? token : "");
    } catch (error) {
      if (thisLoad === latestLoad) showError(error);
      return;
    }
    if (thisLoad !== latestLoad) return;
    const content = clear($("#content"));
    RENDER[page](data, content);
    setState("loaded");
  }

  function startToken() {
    const input = $("#token");
    input.value = storedToken();
    $("#show").addEventListener("click", () => {
      const token = input.value.trim();
      if (!token && needsToken) {
        showError(new ApiError("Type a token first: this page shows what a token may read.", "No token"));
        return;
      }
      if (token) sessionStorage.setItem(TOKEN_KEY, token);
      load();
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") $("#show").click();
    });
    $("#forget").addEventListener("click", () => {
      sessionStorage.removeItem(TOKEN_KEY);
      input.value = "";
      if (needsToken) {
        latestLoad += 1;
        clearTimeout(refreshTimer);
        clear($("#content"));
        $("#error").hidden = true;
        setState("idle");
      }
    });
  }

  // ---- compare ------------------------------------------------------------

  const KINDS = {
    servers: { label: "Server", nova: "Nova server" },
    server_types: { label: "Server type", nova: "Nova flavor" },
    server_tasks: { label: "Server task", nova: "Nova instance action" },
  };

  // same: Nova's value as it is; changed: made from Nova's; own: the proxy's.
  function rowKind(row) {
    if (row.nova_fields.length === 0) return "own";
    return sameValue(row) ? "same" : "changed";
  }

  function sameValue(row) {
    const paths = Object.keys(row.nova_values);
    return paths.length === 1 && JSON.stringify(row.nova_values[paths[0]]) === JSON.stringify(row.value);
  }

  function novaValueCell(row) {
    const paths = Object.keys(row.nova_values);
    if (paths.length === 0) return el("td", { class: "nova-value" }, muted("—"));
    if (paths.length === 1) return el("td", { class: "nova-value" }, value(row.nova_values[paths[0]]));
    return el(
      "td",
      { class: "nova-value" },
      paths.map((path) => el("div", { class: "pair" }, el("span", { class: "path" }, novaName(path)), value(row.nova_values[path]))),
    );
  }

  function fieldRow(row) {
    // A name in parentheses stands for no one field (other calls' answers, say).
    const name = (f) => (f.startsWith("(") ? el("div", {}, muted(f)) : el("code", { class: "nova-field" }, novaName(f)));
    const nova = row.nova_fields.length ? row.nova_fields.map(name) : [muted("the proxy's own")];
    return el(
      "tr",
      { data: { field: row.field }, class: rowKind(row) },
      el("th", { scope: "row", class: "field" }, el("code", { text: row.field })),
      el("td", { class: "vnext-value" }, value(row.value)),
      el("td", { class: "nova-fields" }, nova),
      novaValueCell(row),
      el("td", { class: "transform", text: row.transform }),
      el("td", { class: "declared" }, declaredLink(row.declared_at)),
    );
  }

  function compareHeader(data) {
    const kind = KINDS[data.kind] || { label: data.kind, nova: data.nova_object };
    const vnext = data.vnext || {};
    const name = vnext.name || vnext.hostname || vnext.action || data.id;
    const count = (kind) => data.fields.filter((row) => rowKind(row) === kind).length;
    return el(
      "header",
      { class: "page-head" },
      el("p", { class: "eyebrow", text: `${kind.label} beside the ${kind.nova} it is made from` }),
      el("h1", {}, el("span", { class: "kind", text: kind.label }), " ", el("span", { class: "name", text: name })),
      el(
        "p",
        { class: "subtitle" },
        el("a", { id: "vnext-href", href: localHref(data.vnext_href), text: data.vnext_href }),
        muted(" · mapping "),
        declaredLink(data.declared_at),
      ),
      el(
        "p",
        { class: "stats" },
        stat(data.fields.length, "vNext fields"),
        stat(count("same"), "as Nova shows them", "same"),
        stat(count("changed"), "changed on the way", "changed"),
        count("own") ? stat(count("own"), "the proxy's own", "own") : null,
        stat(Object.keys(data.nova_only).length, `${kind.nova} fields not shown`),
      ),
    );
  }

  function stat(count, label, dot) {
    return el("span", { class: "stat" }, dot ? el("i", { class: `dot ${dot}` }) : null, el("b", { text: String(count) }), ` ${label}`);
  }

  function compareLinks(data) {
    const links = [];
    if (data.kind === "server_tasks") {
      links.push(["Timeline", `/_timeline/server_tasks/${encodeURIComponent(data.id)}`]);
      if (data.vnext && data.vnext.server_id) links.push(["Server", `/_compare/servers/${encodeURIComponent(data.vnext.server_id)}`]);
    }
    return links;
  }

  function renderCompare(data, content) {
    setContextLinks(compareLinks(data));
    content.append(compareHeader(data));
    const kind = KINDS[data.kind] || { nova: data.nova_object };
    content.append(
      el(
        "table",
        { id: "fields", class: "grid" },
        el(
          "thead",
          {},
          el(
            "tr",
            {},
            el("th", { class: "field", text: "vNext field" }),
            el("th", { class: "vnext", text: "vNext value" }),
            el("th", { class: "nova", text: "Nova field" }),
            el("th", { class: "nova", text: "Nova value" }),
            el("th", { text: "How" }),
            el("th", { text: "Declared" }),
          ),
        ),
        el("tbody", {}, data.fields.map(fieldRow)),
      ),
    );
    const leftovers = Object.entries(data.nova_only);
    content.append(
      el("h2", { text: `${kind.nova} fields vNext does not show` }),
      el(
        "table",
        { id: "nova-only", class: "grid" },
        el("thead", {}, el("tr", {}, el("th", { class: "nova", text: "Nova field" }), el("th", { class: "nova", text: "Nova value" }))),
        el(
          "tbody",
          {},
          leftovers.length
            ? leftovers.map(([key, v]) => el("tr", { data: { novaField: key } }, el("th", { scope: "row", class: "field" }, el("code", {}, novaName(key))), el("td", { class: "nova-value" }, value(v))))
            : el("tr", { class: "none" }, el("td", { colspan: "2" }, muted("None: every Nova field is shown."))),
        ),
      ),
      ...novaCallsTable(data.nova_calls),
    );
  }

  // The Nova calls made for this page, as X-VNext-Explain shows them.
  function novaCallsTable(calls) {
    const rows = (calls || []).map((c) => {
      const query = new URLSearchParams(c.query || {}).toString();
      return el(
        "tr",
        { data: { method: c.method, path: c.path } },
        el("td", { class: "method" }, el("code", { text: c.method })),
        el("td", { class: "path" }, el("code", { text: query ? `${c.path}?${query}` : c.path })),
        el("td", { class: "microversion" }, el("code", { text: c.microversion || "" })),
        el("td", { class: "status num", text: String(c.status) }),
        el("td", { class: "ms num", text: `${c.ms} ms` }),
        el("td", { class: "request-id" }, value(c.request_id)),
      );
    });
    return [
      el("h2", { text: "Nova calls made for this page" }),
      el(
        "table",
        { id: "nova-calls", class: "grid" },
        el(
          "thead",
          {},
          el(
            "tr",
            {},
            ["Method", "Path", "Microversion", "Status", "Time", "Nova request id"].map((h) => el("th", { class: "nova", text: h })),
          ),
        ),
        el("tbody", {}, rows.length ? rows : el("tr", { class: "none" }, el("td", { colspan: "6" }, muted("None.")))),
      ),
    ];
  }

  // ---- coverage -----------------------------------------------------------

  const STATUSES = ["mapped", "proxy", "planned", "unmapped", "not_applicable"];

  function percent(share) {
    return `${(share * 100).toFixed(share > 0 && share < 0.1 ? 1 : 0)}%`;
  }

  function figureCells(figures) {
    if (!figures) return [el("td", { class: "requests num" }, muted("—")), el("td", { class: "error-share num" }, muted("—")), el("td", { class: "p50 num" }, muted("—"))];
    const shares = el(
      "td",
      { class: "error-share num" },
      el("span", { class: figures.client_error_share ? "share warn" : "share", text: `4xx ${percent(figures.client_error_share)}` }),
      el("span", { class: figures.server_error_share ? "share bad" : "share", text: `5xx ${percent(figures.server_error_share)}` }),
    );
    return [
      el("td", { class: "requests num", text: String(figures.requests) }),
      shares,
      el("td", { class: "p50 num", text: figures.p50_ms === null ? "—" : `${Math.round(figures.p50_ms)} ms` }),
    ];
  }

  // Nova's names break after a colon only: OS-EXT-STS:|vm_state.
  function novaName(name) {
    const parts = String(name).split(/(?<=:)/);
    return parts.flatMap((part, i) => (i ? [el("wbr"), el("span", { class: "nobreak", text: part })] : [el("span", { class: "nobreak", text: part })]));
  }

  // A path may break after a slash or a comma, never inside a name.
  function breakable(text) {
    const nodes = [];
    for (const piece of String(text).split(/(?<=[/,])|(?=\{\?)/)) {
      if (nodes.length) nodes.push(el("wbr"));
      nodes.push(piece);
    }
    return nodes;
  }

  // The gap table's cells are Markdown from the spec: `code`, ***tag***,
  // **N/A** and *(notes)*. Those four, as DOM nodes; anything else as text.
  const MARKDOWN = /`([^`]*)`|\*\*\*([^*]+)\*\*\*|\*\*([^*]+)\*\*|\*([^*]+)\*/g;

  function markdown(text) {
    const nodes = [];
    let last = 0;
    for (const match of String(text).matchAll(MARKDOWN)) {
      if (match.index > last) nodes.push(text.slice(last, match.index));
      const [, code, tag, strong, emphasis] = match;
      if (code !== undefined) nodes.push(el("code", { class: "call" }, breakable(code)));
      else if (tag !== undefined) nodes.push(el("span", { class: "tag", text: tag }));
      else if (strong !== undefined) nodes.push(el("span", { class: "na", text: strong }));
      else nodes.push(el("span", { class: "note" }, markdown(emphasis)));
      last = match.index + match[0].length;
    }
    if (last < text.length) nodes.push(text.slice(last));
    return nodes;
  }

  function call(text) {
    if (!text) return muted("—");
    return text.trim() === "N/A" ? el("span", { class: "na", text }) : markdown(text);
  }

  function coverageRow(row) {
    const purpose = el("td", { class: "purpose" }, el("span", {}, markdown(row.purpose)));
    if (row.reason) purpose.append(el("div", { class: "reason", text: row.reason }));
    return el(
      "tr",
      { data: { purpose: row.purpose, status: row.status }, title: row.reason || undefined },
      purpose,
      el("td", { class: "v2-call" }, call(row.v2_call)),
      el("td", { class: "vnext-call" }, call(row.vnext_call)),
      el("td", { class: `status status-${row.status}` }, badge(row.status.replace("_", " "), "status", row.status)),
      el("td", { class: "served-by" }, el("code", {}, breakable(row.served_by)), el("div", {}, declaredLink(row.declared_at))),
      el("td", { class: `spec spec-${row.spec}`, text: row.spec }),
      figureCells(row.figures),
    );
  }

  function coverageTable(rows) {
    return el(
      "table",
      { class: "grid coverage" },
      el(
        "thead",
        {},
        el(
          "tr",
          {},
          ["Purpose", "v2.1 call", "vNext call", "Status", "Served by", "Spec", "Requests", "Errors", "p50"].map((h, i) => el("th", { class: i >= 6 ? "num" : undefined, text: h })),
        ),
      ),
      el("tbody", {}, rows.map(coverageRow)),
    );
  }

  function summary(rows) {
    const counts = {};
    for (const row of rows) counts[row.status] = (counts[row.status] || 0) + 1;
    const known = STATUSES.filter((s) => counts[s]);
    const others = Object.keys(counts).filter((s) => !STATUSES.includes(s));
    return el(
      "p",
      { id: "summary", class: "stats" },
      stat(rows.length, "v2.1 calls"),
      [...known, ...others].map((status) => el("span", { class: "stat", data: { status } }, badge(status.replace("_", " "), "status", status), el("b", { text: ` ${counts[status]}` }))),
    );
  }

  function renderCoverage(data, content) {
    content.append(
      el(
        "header",
        { class: "page-head" },
        el("p", { class: "eyebrow", text: "Every Compute API v2.1 call, and how vNext serves it" }),
        el("h1", { text: "Coverage" }),
        el("p", { class: "subtitle" }, muted("Mappings version "), el("code", { text: data.mappings_version }), muted(" · figures are this proxy's, since it started")),
        summary(data.rows),
      ),
    );
    const sections = new Map();
    for (const row of data.rows) {
      if (!sections.has(row.section)) sections.set(row.section, []);
      sections.get(row.section).push(row);
    }
    const coverage = el("div", { id: "coverage" });
    for (const [section, rows] of sections) {
      coverage.append(el("section", { class: "coverage-section", data: { section } }, el("h2", { text: section }), coverageTable(rows)));
    }
    content.append(coverage, el("h2", { text: "Beyond the spec: the proxy's extensions" }), extensionsTable(data.extensions));
  }

  function extensionsTable(extensions) {
    return el(
      "table",
      { id: "extensions", class: "grid" },
      el(
        "thead",
        {},
        el("tr", {}, ["Served by", "What", "Status", "Why", "Requests", "Errors", "p50"].map((h, i) => el("th", { class: i >= 4 ? "num" : undefined, text: h }))),
      ),
      el(
        "tbody",
        {},
        extensions.map((ext) =>
          el(
            "tr",
            { data: { route: ext.route || "" } },
            el("td", { class: "served-by" }, el("code", {}, breakable(ext.served_by)), el("div", {}, declaredLink(ext.declared_at))),
            el("td", { class: "summary-text", text: ext.summary }),
            el("td", { class: `status status-${ext.status}` }, badge(String(ext.status).replace("_", " "), "status", ext.status)),
            el("td", { class: "why", text: ext.why }),
            figureCells(ext.figures),
          ),
        ),
      ),
    );
  }

  // ---- timeline -------------------------------------------------------------

  // Nova writes times without a zone and with microseconds; they are UTC.
  function parseTime(text) {
    if (!text) return null;
    let iso = String(text).replace(/(\.\d{3})\d+/, "$1");
    if (!/(Z|[+-]\d\d:?\d\d)$/.test(iso)) iso += "Z";
    const ms = Date.parse(iso);
    return Number.isNaN(ms) ? null : ms;
  }

  function clock(ms) {
    return ms === null ? "—" : new Date(ms).toISOString().slice(11, 23);
  }

  function seconds(s) {
    return s === null || s === undefined ? "—" : `${Number(s).toFixed(s < 10 ? 2 : 1)} s`;
  }

  // The API shows times to the second; the timeline also sends them exact (data.exact, step.exact).
  function stepSpan(step, now) {
    const start = parseTime(step.exact?.started_at ?? step.started_at);
    if (start === null) return null;
    const end = typeof step.seconds === "number" ? start + step.seconds * 1000 : parseTime(step.exact?.ended_at ?? step.ended_at) ?? now;
    return { start, end };
  }

  function eventSpan(event, now) {
    const start = parseTime(event.start_time);
    return start === null ? null : { start, end: parseTime(event.finish_time) ?? now };
  }

  function axisRange(data, now) {
    const task = data.task;
    const starts = [parseTime(data.exact?.created_at ?? task.created_at)];
    const ends = [parseTime(data.exact?.ended_at ?? task.ended_at) ?? now];
    if (data.nova_action) starts.push(parseTime(data.nova_action.start_time));
    for (const span of [...data.steps.map((s) => stepSpan(s, now)), ...novaEvents(data).map((e) => eventSpan(e, now))]) {
      if (span) starts.push(span.start), ends.push(span.end);
    }
    const origin = Math.min(...starts.filter((t) => t !== null));
    const end = Math.max(...ends.filter((t) => t !== null), origin + 1000);
    return { origin, length: end - origin };
  }

  function novaEvents(data) {
    const events = (data.nova_action && data.nova_action.events) || [];
    return [...events].sort((a, b) => (parseTime(a.start_time) ?? 0) - (parseTime(b.start_time) ?? 0));
  }

  // CSSOM, not markup: the page's CSP allows no style attributes in HTML.
  function bar(span, range, className) {
    const node = el("div", { class: className });
    if (span) {
      const left = ((span.start - range.origin) / range.length) * 100;
      const width = Math.max(((span.end - span.start) / range.length) * 100, 0.6);
      node.style.left = `${Math.max(left, 0).toFixed(3)}%`;
      node.style.width = `${Math.min(width, 100 - Math.max(left, 0)).toFixed(3)}%`;
    }
    return el("div", { class: "track" }, node);
  }

  function niceStep(lengthSeconds) {
    for (const step of [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600]) {
      if (lengthSeconds / step <= 8) return step;
    }
    return 7200;
  }

  function axis(range) {
    const total = range.length / 1000;
    const step = niceStep(total);
    const ticks = el("div", { class: "ticks" });
    for (let t = 0; t <= total + 1e-9; t += step) {
      const tick = el("span", { class: "tick", text: `${Number(t.toFixed(1))} s` });
      tick.style.left = `${((t / total) * 100).toFixed(3)}%`;
      ticks.append(tick);
    }
    return el("div", { class: "lane axis" }, el("div", { class: "label" }, muted(`from ${clock(range.origin)} UTC`)), el("div", { class: "track" }, ticks), el("div", {}), el("div", {}));
  }

  // The whole task: from the request to the end the proxy saw, or to now.
  function taskLane(data, range, now) {
    const start = parseTime(data.exact?.created_at ?? data.task.created_at);
    const end = typeof data.seconds === "number" ? start + data.seconds * 1000 : parseTime(data.exact?.ended_at ?? data.task.ended_at) ?? now;
    return el(
      "div",
      { class: `lane task-span state-${String(data.task.state).toLowerCase()}` },
      el("div", { class: "label" }, el("span", { class: "action", text: "Whole task" })),
      bar(start === null ? null : { start, end }, range, "bar"),
      el("span", { class: "seconds", text: seconds(data.seconds) }),
      el("div", { class: "nova-states" }, muted("from the request to the end the proxy saw")),
    );
  }

  function stepLane(step, range, now) {
    const states = step.nova_task_states.map((s) => el("code", { class: "task-state", text: s }));
    const events = step.nova_events.map((e) => el("code", { class: "event-name", text: e }));
    return el(
      "div",
      { class: `lane step state-${String(step.state).toLowerCase()}`, data: { action: step.action, state: step.state } },
      el("div", { class: "label" }, el("span", { class: "action", text: step.action }), badge(step.state, "state")),
      bar(stepSpan(step, now), range, "bar"),
      el("span", { class: "seconds", text: seconds(step.seconds) }),
      el("div", { class: "nova-states" }, states.length ? states : muted("—"), events.length ? el("div", { class: "nova-events" }, muted("events "), events) : null),
    );
  }

  function eventLane(event, range, now) {
    const span = eventSpan(event, now);
    const length = span && event.finish_time ? (span.end - span.start) / 1000 : null;
    return el(
      "div",
      { class: `lane nova-event result-${String(event.result || "running").toLowerCase()}`, data: { event: event.event } },
      el("div", { class: "label" }, el("code", { class: "event-name", text: event.event })),
      bar(span, range, "bar"),
      el("span", { class: "seconds", text: seconds(length) }),
      el("div", { class: "nova-states" }, muted(event.result || "running")),
    );
  }

  function eventsTable(events) {
    const rows = events.map((event) => {
      const start = parseTime(event.start_time);
      const finish = parseTime(event.finish_time);
      return el(
        "tr",
        { data: { event: event.event } },
        el("th", { scope: "row", class: "field" }, el("code", { text: event.event })),
        el("td", { class: "start mono", text: clock(start) }),
        el("td", { class: "finish mono", text: clock(finish) }),
        el("td", { class: "duration num", text: start !== null && finish !== null ? seconds((finish - start) / 1000) : "—" }),
        el("td", { class: "result" }, event.result ? badge(event.result, "result") : muted("running")),
      );
    });
    return el(
      "table",
      { id: "events", class: "grid" },
      el("thead", {}, el("tr", {}, el("th", { class: "nova", text: "Nova event" }), el("th", { text: "Start (UTC)" }), el("th", { text: "Finish (UTC)" }), el("th", { class: "num", text: "Duration" }), el("th", { text: "Result" }))),
      el("tbody", {}, rows.length ? rows : el("tr", { class: "none" }, el("td", { colspan: "5" }, muted("Nova shows no events for this action.")))),
    );
  }

  function card(title, className, ...body) {
    return el("section", { class: `card ${className}` }, el("h3", { text: title }), ...body);
  }

  function timelineCards(data) {
    const task = data.task;
    const action = data.nova_action;
    const server = data.server_now;
    return el(
      "div",
      { class: "cards" },
      card(
        "vNext task",
        "vnext",
        definitions([
          ["id", value(task.id)],
          ["server", el("a", { href: `/_compare/servers/${encodeURIComponent(task.server_id)}` }, el("code", { text: task.server_id }))],
          ["created", value(task.created_at)],
          ["ended", value(task.ended_at)],
          ["reason", value(task.reason)],
        ]),
      ),
      card(
        "Nova instance action",
        "nova",
        action
          ? definitions([
              ["action", value(action.action)],
              ["request id", value(action.request_id)],
              ["started", value(action.start_time)],
              ["updated", value(action.updated_at)],
              ["message", value(action.message)],
            ])
          : muted("Nova recorded no instance action for this task."),
      ),
      el(
        "section",
        { id: "server-now", class: "card nova" },
        el("h3", { text: "The server in Nova, now" }),
        server
          ? definitions([
              ["status", value(server.status)],
              ["vm_state", value(server.vm_state)],
              ["task_state", value(server.task_state)],
              ["power_state", value(server.power_state)],
            ])
          : muted("Nova does not show this server any more."),
      ),
    );
  }

  function renderTimeline(data, content) {
    const task = data.task;
    setContextLinks([
      ["Compare task", `/_compare/server_tasks/${encodeURIComponent(task.id)}`],
      ["Server", `/_compare/servers/${encodeURIComponent(task.server_id)}`],
    ]);
    const now = Date.now();
    const range = axisRange(data, now);
    const events = novaEvents(data);
    content.append(
      el(
        "header",
        { class: "page-head" },
        el("p", { class: "eyebrow", text: "A vNext task's steps beside Nova's instance action" }),
        el("h1", {}, el("span", { id: "task-action", class: "name", text: task.action }), " ", badge(task.state, "state"), " ", el("span", { id: "task-seconds", class: "total", text: seconds(data.seconds) })),
        el("p", { class: "subtitle" }, el("a", { href: localHref(task._links && task._links.self && task._links.self.href), text: `/server_tasks/${task.id}` })),
      ),
      timelineCards(data),
      el("h2", { text: "On one time axis" }),
      el(
        "div",
        { class: "timeline" },
        axis(range),
        el("div", { class: "group-label vnext", text: "vNext task and its steps" }),
        taskLane(data, range, now),
        el("div", { id: "steps" }, data.steps.length ? data.steps.map((s) => stepLane(s, range, now)) : muted("No steps recorded yet.")),
        el("div", { class: "group-label nova", text: "Nova's events" }),
        el("div", { id: "event-lanes" }, events.length ? events.map((e) => eventLane(e, range, now)) : muted("No events.")),
      ),
      el("h2", { text: "Nova's events for the action" }),
      eventsTable(events),
      ...novaCallsTable(data.nova_calls),
    );
    if (task.state === "RUNNING") refreshTimer = setTimeout(load, REFRESH_MS);
  }

  // ---- nav ------------------------------------------------------------------

  function setContextLinks(links) {
    const holder = clear($("#context-links"));
    for (const [text, href] of links) holder.append(el("a", { href, text }));
  }

  const RENDER = { compare: renderCompare, coverage: renderCoverage, timeline: renderTimeline };

  startToken();
  load();
})();
