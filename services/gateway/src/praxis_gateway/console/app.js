// Praxis console: plain JavaScript over the gateway's /api/v1 (no build step, no CDN; benches are often offline).
"use strict";

(() => {
  const API = "/api/v1";
  const KEY_STORAGE = "praxis.apiKey";
  // Run statuses and which command each state takes come from the contracts (GET /console/vocabulary.js, loaded
  // before this file); the console keeps no list of its own.
  const VOCABULARY = window.PRAXIS_VOCABULARY;
  const TERMINAL = new Set(VOCABULARY ? VOCABULARY.terminalStatuses : []);
  const view = document.getElementById("view");

  // ---------------------------------------------------------------------------------------------- DOM helpers

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key in node && typeof value !== "string") node[key] = value;
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function toast(message, kind = "info") {
    const node = el("div", { class: `toast ${kind}`, text: message });
    document.getElementById("toasts").append(node);
    setTimeout(() => node.remove(), kind === "error" ? 8000 : 4000);
  }

  // ---------------------------------------------------------------------------------------------- API

  class ApiError extends Error {
    constructor(status, body) {
      super(describe(body) || `HTTP ${status}`);
      this.status = status;
      this.body = body || {};
    }
  }

  function describe(body) {
    if (!body) return "";
    const detail = body.detail;
    if (Array.isArray(detail)) return detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("\n");
    return typeof detail === "string" ? detail : JSON.stringify(detail);
  }

  const apiKey = {
    get: () => localStorage.getItem(KEY_STORAGE) || "",
    set: (value) => (value ? localStorage.setItem(KEY_STORAGE, value) : localStorage.removeItem(KEY_STORAGE)),
  };

  async function api(path, { method = "GET", json, form, query } = {}) {
    const headers = {};
    const key = apiKey.get();
    if (key) headers["X-API-Key"] = key;
    let body;
    if (json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(json);
    } else if (form) {
      body = form;
    }
    const url = new URL(API + path, location.origin);
    for (const [k, v] of Object.entries(query || {})) if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, v);
    const response = await fetch(url, { method, headers, body });
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = { detail: text }; }
    if (response.status === 401) askForKey();
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  // ---------------------------------------------------------------------------------------------- formatting

  const shortId = (id) => (id && id.length > 12 ? id.slice(0, 8) : id || "");
  const shortType = (fqn) => (fqn || "").split(".").pop();

  function fmtTime(value) {
    if (!value) return "—";
    const date = new Date(value);
    return isNaN(date) ? String(value) : date.toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" });
  }

  function ago(value) {
    if (!value) return "never";
    const seconds = Math.round((Date.now() - new Date(value).getTime()) / 1000);
    if (isNaN(seconds)) return String(value);
    if (seconds < 5) return "just now";
    if (seconds < 60) return `${seconds}s ago`;
    if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
    return `${Math.round(seconds / 3600)} h ago`;
  }

  function fmtMs(ms) {
    if (ms === undefined || ms === null) return "";
    return ms < 1000 ? `${ms.toFixed(1)} ms` : `${(ms / 1000).toFixed(2)} s`;
  }

  function compact(value) {
    if (value === undefined || value === null) return "";
    const text = typeof value === "string" ? value : JSON.stringify(value);
    return text.length > 160 ? `${text.slice(0, 157)}…` : text;
  }

  // Why a run in `status` refuses `action` (null: it takes it): praxis_contracts.runs.refusal(), tabulated.
  function refusal(status, action, pauseRequested) {
    const row = VOCABULARY.refusals[status];
    if (!row) return `unknown status ${status}`;
    return row[pauseRequested ? "pausing" : "steady"][action];
  }

  const badge = (status) => el("span", { class: `badge ${status}`, text: String(status || "unknown").replace("_", " ") });

  // ---------------------------------------------------------------------------------------------- router

  let leaving = [];
  const onLeave = (fn) => leaving.push(fn);

  function every(ms, fn) {
    const id = setInterval(() => { if (!document.hidden) fn(); }, ms);
    onLeave(() => clearInterval(id));
  }

  const routes = [
    [/^#\/protocols(?:\/(.+))?$/, "protocols", viewProtocols],
    [/^#\/runs\/(.+)$/, "runs", viewRun],
    [/^#\/runs$/, "runs", viewRuns],
    [/^#\/benches$/, "benches", viewBenches],
    [/^#\/queue$/, "queue", viewQueue],
  ];

  async function render() {
    leaving.forEach((fn) => fn());
    leaving = [];
    if (!VOCABULARY) {
      view.replaceChildren(el("div", { class: "panel empty", text: "Could not load /console/vocabulary.js from the gateway; reload the page." }));
      return;
    }
    const hash = location.hash || "#/protocols";
    const [pattern, section, handler] = routes.find(([p]) => p.test(hash)) || routes[0];
    const match = hash.match(pattern) || [];
    for (const link of document.querySelectorAll("#nav a")) link.classList.toggle("active", link.dataset.section === section);
    view.replaceChildren();
    try {
      await handler(...match.slice(1).map((part) => (part ? decodeURIComponent(part) : part)));
    } catch (err) {
      view.append(el("div", { class: "panel empty", text: `Could not load this page: ${err.message}` }));
    }
  }

  function go(hash) {
    if (location.hash === hash) render();
    else location.hash = hash;
  }

  function pageHead(title, sub, ...actions) {
    return el("div", { class: "page-head" },
      el("div", {}, el("h1", { text: title }), sub ? el("div", { class: "muted sub", text: sub }) : null),
      el("div", { class: "row" }, ...actions));
  }

  // ---------------------------------------------------------------------------------------------- protocols

  async function viewProtocols(selectedId) {
    const list = el("div", { class: "cards" });
    const detail = el("div");
    const diagnostics = el("div");
    view.append(
      pageHead("Protocols", "Upload a protocol file, choose its parameters, and run it on a bench."),
      el("div", { class: "grid two" },
        el("div", {},
          el("section", { class: "panel" }, el("h2", { text: "Upload" }), uploadZone(diagnostics), diagnostics),
          el("section", { class: "panel" }, el("h2", { text: "Registered protocols" }), list)),
        detail));

    const { protocols } = await api("/protocols");
    if (!protocols.length) list.replaceWith(el("div", { class: "empty", text: "No protocols yet. Upload a .py file." }));
    for (const p of protocols) {
      list.append(el("div", {
        class: `card${p.id === selectedId ? " selected" : ""}`,
        onclick: () => (location.hash = `#/protocols/${encodeURIComponent(p.id)}`),
      },
      el("div", { class: "title" }, el("span", { text: p.name }), el("span", { class: "chip", text: `v${p.version}` })),
      el("div", { class: "desc", text: p.description || p.filename }),
      el("div", { class: "chips" },
        el("span", { class: "chip", text: `${p.parameters.length} parameters` }),
        ...p.assets.map((a) => el("span", { class: "chip", text: shortType(a.plr_type) })))));
    }
    const selected = protocols.find((p) => p.id === selectedId);
    if (selected) detail.append(...protocolDetail(selected));
    else detail.append(el("section", { class: "panel empty", text: "Select a protocol to see its parameters and run it." }));
  }

  function uploadZone(diagnostics) {
    const input = el("input", { type: "file", accept: ".py,text/x-python" });
    const zone = el("label", { class: "dropzone" }, input,
      el("div", {}, el("strong", { text: "Drop a protocol file here" })),
      el("div", { class: "small", text: "or click to choose a .py file (up to 1 MiB)" }));

    async function upload(file) {
      diagnostics.replaceChildren();
      const form = new FormData();
      form.append("file", file);
      try {
        const definition = await api("/protocols", { method: "POST", form });
        const count = (definition.protocols || []).length;
        toast(`Registered ${definition.name}${count > 1 ? ` (+${count - 1} more in this file)` : ""}`, "ok");
        go(`#/protocols/${encodeURIComponent(definition.id)}`);
      } catch (err) {
        const items = (err.body && err.body.diagnostics) || [];
        diagnostics.append(el("div", { class: "panel", style: "margin-top:12px" },
          el("strong", { text: `${file.name} was not accepted` }),
          el("div", { class: "field-error", text: err.message }),
          items.length ? el("ul", {}, items.map((d) => el("li", { class: "mono small",
            text: `${d.line ? `line ${d.line}${d.column ? `:${d.column}` : ""}  ` : ""}${d.message}` }))) : null));
      }
    }

    input.addEventListener("change", () => input.files[0] && upload(input.files[0]));
    zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      zone.classList.remove("over");
      if (e.dataTransfer.files[0]) upload(e.dataTransfer.files[0]);
    });
    return zone;
  }

  function baseType(type) {
    let t = String(type || "str").trim();
    const optional = /^Optional\[(.*)\]$/.exec(t);
    if (optional) t = optional[1];
    return t.split("|").map((s) => s.trim()).filter((s) => s !== "None")[0] || "str";
  }

  function parameterInput(spec) {
    const type = baseType(spec.type);
    const id = `param-${spec.name}`;
    let input;
    if (spec.choices && spec.choices.length) {
      input = el("select", { id }, spec.choices.map((c) =>
        el("option", { value: JSON.stringify(c), text: String(c), selected: c === spec.default })));
      input.read = () => JSON.parse(input.value);
    } else if (type === "bool") {
      input = el("input", { id, type: "checkbox", checked: Boolean(spec.default) });
      input.read = () => input.checked;
    } else if (type === "int" || type === "float") {
      input = el("input", {
        id, type: "number", step: type === "int" ? "1" : "any",
        min: spec.minimum ?? undefined, max: spec.maximum ?? undefined,
        value: spec.default ?? "", placeholder: spec.required ? "required" : "",
      });
      input.read = () => (input.value === "" ? undefined : Number(input.value));
    } else if (type.startsWith("list") || type.startsWith("tuple") || type.startsWith("dict")) {
      input = el("input", { id, type: "text", class: "mono", value: spec.default == null ? "" : JSON.stringify(spec.default),
        placeholder: "JSON, e.g. [10, 20, 30]" });
      input.read = () => (input.value.trim() === "" ? undefined : JSON.parse(input.value));
    } else {
      input = el("input", { id, type: "text", value: spec.default ?? "", placeholder: spec.required ? "required" : "" });
      input.read = () => (input.value === "" && !spec.required ? undefined : input.value);
    }
    const range = [spec.minimum != null ? `≥ ${spec.minimum}` : "", spec.maximum != null ? `≤ ${spec.maximum}` : ""]
      .filter(Boolean).join(", ");
    const error = el("div", { class: "field-error", hidden: true });
    const label = type === "bool"
      ? el("label", { class: "check" }, input, el("span", { text: spec.name }),
        spec.description ? el("span", { class: "hint muted", text: ` — ${spec.description}` }) : null)
      : el("label", { class: "field", for: id },
        el("span", { class: "name" }, el("span", { text: spec.name + (spec.required ? " *" : "") }),
          el("span", { class: "hint", text: [spec.type, range].filter(Boolean).join(" · ") })),
        el("div", { class: "with-unit" }, input, spec.unit ? el("span", { class: "unit", text: spec.unit }) : null),
        spec.description ? el("div", { class: "hint muted small", text: spec.description }) : null,
        error);
    return { spec, input, label, error };
  }

  function protocolDetail(p) {
    const fields = p.parameters.map(parameterInput);
    const pins = p.assets.map((a) => ({ asset: a, input: el("input", { type: "text", placeholder: "any matching asset" }) }));
    const simulate = el("input", { type: "checkbox", checked: true });
    const priority = el("input", { type: "number", step: "1", value: "0" });
    const submit = el("button", { class: "primary", type: "submit", text: "Start run" });

    async function onSubmit(event) {
      event.preventDefault();
      const parameters = {};
      for (const f of fields) {
        f.error.hidden = true;
        f.input.classList.remove("invalid");
        try {
          const value = f.input.read();
          if (value !== undefined) parameters[f.spec.name] = value;
        } catch (err) {
          return fieldError(f, `not valid JSON: ${err.message}`);
        }
      }
      const body = { protocol_id: p.id, parameters, simulate: simulate.checked, priority: Number(priority.value || 0), pins: {} };
      for (const { asset, input } of pins) if (input.value.trim()) body.pins[asset.name] = input.value.trim();
      submit.disabled = true;
      try {
        const run = await api("/runs", { method: "POST", json: body });
        toast(`Run ${shortId(run.id)} queued`, "ok");
        location.hash = `#/runs/${run.id}`;
      } catch (err) {
        const field = fields.find((f) => f.spec.name === (err.body && err.body.parameter));
        if (field) fieldError(field, err.message);
        else toast(err.message, "error");
      } finally {
        submit.disabled = false;
      }
    }

    function fieldError(field, message) {
      field.error.textContent = message;
      field.error.hidden = false;
      field.input.classList.add("invalid");
      field.input.focus();
    }

    return [
      el("section", { class: "panel" },
        el("div", { class: "page-head" },
          el("div", {}, el("h2", { text: p.name, style: "margin:0" }), el("div", { class: "muted small", text: `${p.filename} · ${p.function}() · v${p.version}` })),
          el("span", { class: "chip mono", text: shortId(p.source_hash) })),
        p.description ? el("p", { text: p.description }) : null,
        el("h3", { text: "Assets the platform provides" }),
        p.assets.length ? el("table", {}, el("thead", {}, el("tr", {}, ["Name", "Type", "Kind", "Needs"].map((h) => el("th", { text: h })))),
          el("tbody", {}, p.assets.map((a) => el("tr", {},
            el("td", { class: "mono", text: a.name + (a.optional ? " (optional)" : "") }),
            el("td", { title: a.plr_type, text: shortType(a.plr_type) + (a.many ? " (many)" : "") }),
            el("td", { text: a.kind }),
            el("td", {}, el("div", { class: "chips" }, (a.capabilities || []).map((c) => el("span", { class: "chip", text: c })))))))
        ) : el("p", { class: "muted", text: "None." }),
        (p.setup_instructions || []).length ? el("div", {}, el("h3", { text: "Setup" }),
          el("ol", {}, p.setup_instructions.map((s) => el("li", { text: s })))) : null),
      el("form", { class: "panel", onsubmit: onSubmit },
        el("h2", { text: "Run it" }),
        fields.length ? fields.map((f) => f.label) : el("p", { class: "muted", text: "This protocol takes no parameters." }),
        el("div", { class: "row" },
          el("label", { class: "check" }, simulate, el("span", { text: "Simulate (chatterbox backends)" })),
          el("label", { class: "field" }, el("span", { class: "name", text: "Priority" }), priority)),
        pins.length ? el("details", {}, el("summary", { class: "muted", text: "Pin assets (optional)" }),
          pins.map(({ asset, input }) => el("label", { class: "field" },
            el("span", { class: "name" }, el("span", { text: asset.name }), el("span", { class: "hint", text: "bench/machine[/resource]" })), input))) : null,
        el("div", { class: "actions" }, submit)),
    ];
  }

  // ---------------------------------------------------------------------------------------------- runs

  async function viewRuns() {
    const status = el("select", { onchange: () => load() },
      el("option", { value: "", text: "All statuses" }),
      VOCABULARY.runStatuses.map((s) => el("option", { value: s, text: s.replace("_", " ") })));
    const body = el("tbody");
    view.append(
      pageHead("Runs", "Newest first; refreshed every few seconds.", status),
      el("section", { class: "panel flush" }, el("table", {},
        el("thead", {}, el("tr", {}, ["Run", "Protocol", "Status", "Created", "Updated"].map((h) => el("th", { text: h })))),
        body)));

    async function load() {
      const { runs } = await api("/runs", { query: { status: status.value, limit: 200 } });
      body.replaceChildren(...(runs.length ? runs.map((r) => el("tr", { class: "clickable", onclick: () => (location.hash = `#/runs/${r.id}`) },
        el("td", { class: "mono", text: shortId(r.id), title: r.id }),
        el("td", { text: r.protocol_name || r.protocol_id }),
        el("td", {}, badge(r.status)),
        el("td", { text: fmtTime(r.created_at) }),
        el("td", { text: ago(r.updated_at) }))) : [el("tr", {}, el("td", { colspan: 5, class: "empty", text: "No runs yet." }))]));
    }

    await load();
    every(3000, () => load().catch(() => {}));
  }

  // -- one run: status and control, the parked step, a paged journal, and the live event timeline

  const STEP_PAGE = 200;
  const MAX_TIMELINE_ROWS = 200;
  const CHOICES = {
    happened: ["It happened — go on", "The step took place on the instrument: continue after it."],
    retry: ["Retry the step", "The step did not take place: do it again."],
    abort: ["Abort the run", "End the run here."],
  };
  const PARK_KINDS = {
    unknown_outcome: "nobody knows whether the machine call took place",
    bench_unreachable: "the bench stopped answering",
    divergence: "the replay did not match the journal (the protocol is not deterministic)",
    worker_crash: "the run's worker keeps crashing",
  };

  function fmtBytes(bytes) {
    if (!bytes) return "0 B";
    const units = ["B", "kB", "MB", "GB"];
    const i = Math.min(units.length - 1, Math.floor(Math.log10(bytes) / 3));
    return `${(bytes / 10 ** (3 * i)).toFixed(i ? 1 : 0)} ${units[i]}`;
  }

  // A readable line for a run event in the timeline.
  function describeEvent(type, e) {
    switch (type) {
      case "StepCompleted":
        return `step ${e.step}: ${e.machine}.${e.method}${e.replayed ? " (answered from the bench's record)" : ""}${e.error ? ` — failed: ${e.error}` : ""}`;
      case "RunControlRequested":
        return `${e.action} requested${e.requested_by ? ` by ${e.requested_by}` : ""}${e.detail ? ` — ${e.detail}` : ""}`;
      case "RunRecovering":
        return `worker generation ${e.epoch} on ${e.owner} takes over, replaying ${e.journaled_steps} journaled step(s) — ${e.reason}`;
      case "RunStarted":
        return e.worker_pid ? `worker pid ${e.worker_pid}` : "";
      default: {
        const parts = [e.status ? String(e.status).replace("_", " ") : "", e.reason, e.error];
        if (e.parked) parts.push(`parked at step ${e.parked.step} (${e.parked.kind.replaceAll("_", " ")})`);
        return parts.filter(Boolean).join(" — ");
      }
    }
  }

  async function viewRun(runId) {
    const path = `/runs/${encodeURIComponent(runId)}`;
    const state = {
      lastSeq: 0, run: null, status: null, pauseRequested: false, cancelRequested: false,
      socket: null, closed: false, retry: null, reload: null,
      stepsNext: 0, stepsDone: false, lastStep: 0, stepsTotal: 0, hiddenEvents: 0, parkedKey: "",
    };
    onLeave(() => {
      state.closed = true;
      clearTimeout(state.retry);
      clearTimeout(state.reload);
      if (state.socket) state.socket.close();
    });

    const statusSlot = el("span");
    const pending = el("span", { class: "pending" });
    const live = el("span", { class: "live" }, el("span", { class: "dot" }), el("span", { text: "connecting" }));
    const buttons = {
      pause: el("button", { class: "small", text: "Pause", disabled: true, onclick: () => control("pause") }),
      resume: el("button", { class: "small", text: "Resume", disabled: true, onclick: () => control("resume") }),
      cancel: el("button", { class: "small danger", text: "Cancel", disabled: true, onclick: () => control("cancel") }),
    };
    const summary = el("section", { class: "panel" });
    const problem = el("div");
    const parkedSlot = el("div");
    const steps = el("tbody");
    const stepsInfo = el("span", { class: "muted small" });
    const moreButton = el("button", { class: "small", text: `Load ${STEP_PAGE} more`, onclick: () => loadSteps().catch((err) => toast(err.message, "error")) });
    const allButton = el("button", { class: "small ghost", text: "Load all", onclick: () => loadAllSteps() });
    const events = el("tbody");
    const eventsInfo = el("div", { class: "muted small more", hidden: true });
    const title = el("h1", { text: `Run ${shortId(runId)}` });

    view.append(
      el("div", { class: "page-head" },
        el("div", {}, el("div", { class: "row inline" }, title, statusSlot, pending),
          el("div", { class: "muted sub mono small", text: runId })),
        el("div", { class: "row inline" }, live, buttons.pause, buttons.resume, buttons.cancel)),
      parkedSlot,
      problem,
      el("div", { class: "grid two" },
        summary,
        el("section", { class: "panel flush" }, el("h2", { text: "Events" }),
          el("div", { class: "timeline" },
            el("table", {}, el("thead", {}, el("tr", {}, ["#", "Event", "At"].map((h) => el("th", { text: h })))), events)),
          eventsInfo)),
      el("section", { class: "panel flush", style: "margin-top:16px" },
        el("div", { class: "page-head", style: "padding:16px 20px 0;margin:0" }, el("h2", { text: "Steps", style: "margin:0" }), stepsInfo),
        el("table", {},
          el("thead", {}, el("tr", {}, ["Step", "Machine", "Method", "Arguments", "Result", "Duration"].map((h, i) =>
            el("th", { class: i === 5 ? "num" : "", text: h })))),
          steps),
        el("div", { class: "more" }, moreButton, allButton)));

    // Every enable/disable decision comes from the contracts' refusal() via the vocabulary script.
    function applyState() {
      const status = state.status;
      statusSlot.replaceChildren(badge(status));
      const terminal = TERMINAL.has(status);
      const pausing = state.pauseRequested && refusal(status, "pause", false) === null;
      pending.textContent = state.cancelRequested && !terminal ? "cancelling…" : pausing ? "pausing…" : "";
      for (const action of ["pause", "resume", "cancel"]) {
        const why = refusal(status, action, state.pauseRequested);
        buttons[action].disabled = why !== null;
        buttons[action].title = why || "";
      }
      renderParked();
    }

    function renderParked() {
      const parked = state.run && state.run.parked;
      const show = parked && refusal(state.status, "recover", false) === null;
      const key = show ? JSON.stringify(parked) : "";
      if (key === state.parkedKey) return; // keep an error message shown under the buttons
      state.parkedKey = key;
      if (!show) return parkedSlot.replaceChildren();
      const error = el("div", { class: "field-error", hidden: true });
      const choices = el("div", { class: "actions choices" }, parked.choices.map((choice) => {
        const [label, hint] = CHOICES[choice] || [choice, ""];
        return el("button", { class: choice === "abort" ? "danger" : "primary", text: label, title: hint,
          onclick: () => recover(choice, choices, error) });
      }));
      parkedSlot.replaceChildren(el("section", { class: "panel parked" },
        el("h2", { text: "This run needs an operator" }),
        el("dl", { class: "kv" },
          el("dt", { text: "Step" }), el("dd", { class: "mono", text: parked.step }),
          el("dt", { text: "Kind" }), el("dd", {}, el("strong", { text: parked.kind.replaceAll("_", " ") }),
            PARK_KINDS[parked.kind] ? ` — ${PARK_KINDS[parked.kind]}` : ""),
          el("dt", { text: "Reason" }), el("dd", { text: parked.reason })),
        choices, error));
    }

    async function recover(choice, choices, error) {
      if (choice === "abort" && !confirm("Abort this run? It ends here.")) return;
      error.hidden = true;
      const all = [...choices.querySelectorAll("button")];
      all.forEach((b) => (b.disabled = true));
      try {
        await api(`${path}/recover`, { method: "POST", json: { choice } });
        toast(`Recovery requested: ${choice}`, "ok");
        scheduleReload();
      } catch (err) {
        error.textContent = err.message;
        error.hidden = false;
        toast(err.message, "error");
        all.forEach((b) => (b.disabled = false));
      }
    }

    async function control(action) {
      if (action === "cancel" && !confirm("Cancel this run? It stops before its next machine call.")) return;
      try {
        await api(`${path}/${action}`, { method: "POST" });
        toast(`${action} requested`, "ok");
        if (action === "cancel") state.cancelRequested = true;
        else state.pauseRequested = action === "pause";
        applyState();
        scheduleReload();
      } catch (err) {
        toast(err.message, "error");
      }
    }

    function scheduleReload() {
      clearTimeout(state.reload);
      state.reload = setTimeout(() => loadDetail().catch(() => {}), 300);
    }

    function outputsRow(run) {
      if (run.outputs_inline === false) {
        const href = `${API}${path}/outputs`;
        const link = el("a", { href, target: "_blank", rel: "noopener", onclick: (e) => downloadOutputs(e, href),
          text: `download JSON (${fmtBytes(run.outputs_size)})` });
        return [el("dt", { text: "Outputs" }), el("dd", {}, link, el("span", { class: "muted small", text: " — too large to show here" }))];
      }
      if (!Object.keys(run.outputs || {}).length) return null;
      return [el("dt", { text: "Outputs" }), el("dd", { class: "mono small", text: compact(run.outputs) })];
    }

    // With an API key the link alone would be refused (a plain link sends no header): fetch, then save.
    async function downloadOutputs(event, href) {
      if (!apiKey.get()) return;
      event.preventDefault();
      try {
        const response = await fetch(href, { headers: { "X-API-Key": apiKey.get() } });
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        const url = URL.createObjectURL(await response.blob());
        el("a", { href: url, download: `${runId}-outputs.json` }).click();
        setTimeout(() => URL.revokeObjectURL(url), 60000);
      } catch (err) {
        toast(`Could not download the outputs: ${err.message}`, "error");
      }
    }

    async function loadDetail() {
      const run = await api(path, { query: { steps_limit: 0 } });
      state.run = run;
      state.status = run.status;
      state.pauseRequested = Boolean(run.pause_requested);
      state.cancelRequested = Boolean(run.cancel_requested);
      state.stepsTotal = Math.max(state.stepsTotal, run.steps_total || 0);
      title.textContent = run.protocol_name ? `${run.protocol_name} · ${shortId(runId)}` : `Run ${shortId(runId)}`;
      applyState();
      updateStepsInfo();
      const assets = (run.assignment && run.assignment.assets) || [];
      summary.replaceChildren(
        el("h2", { text: "Summary" }),
        el("dl", { class: "kv" },
          el("dt", { text: "Protocol" }), el("dd", { text: run.protocol_name || run.protocol_id || "—" }),
          el("dt", { text: "Simulated" }), el("dd", { text: run.simulate === false ? "no — real hardware" : "yes" }),
          el("dt", { text: "Created" }), el("dd", { text: fmtTime(run.created_at) }),
          el("dt", { text: "Parameters" }), el("dd", { class: "mono small", text: compact(run.parameters) || "—" }),
          el("dt", { text: "Steps" }), el("dd", { text: String(run.steps_total || 0) }),
          run.owner ? [el("dt", { text: "Executor" }), el("dd", { class: "mono small", text: run.owner })] : null,
          run.queue ? [el("dt", { text: "Queue" }), el("dd", { text: `position ${run.queue.position}${run.queue.why_waiting ? ` — ${run.queue.why_waiting}` : ""}` })] : null,
          run.reason ? [el("dt", { text: "Reason" }), el("dd", { text: run.reason })] : null,
          outputsRow(run)),
        assets.length ? el("div", { style: "margin-top:12px" }, el("h3", { text: "Assignment" }),
          el("table", {}, el("tbody", {}, assets.map((a) => el("tr", {},
            el("td", { class: "mono", text: a.requirement }),
            el("td", { text: a.asset_id || [a.bench_id, a.machine, a.resource].filter(Boolean).join("/") }),
            el("td", {}, a.simulated ? el("span", { class: "badge simulated", text: "simulated" }) : el("span", { class: "badge", text: "real" }))))))) : "");
      problem.replaceChildren(...(run.error || run.traceback ? [el("section", { class: "panel", style: "margin-bottom:16px" },
        el("h2", { text: "Error" }), el("p", { text: run.error || "" }), run.traceback ? el("pre", { class: "trace", text: run.traceback }) : null)] : []));
    }

    // -- the journal, a page at a time (a run can have tens of thousands of steps)

    function addStep(event, fresh) {
      const failed = Boolean(event.error);
      state.lastStep = event.step;
      steps.append(el("tr", { class: `${failed ? "error-row" : ""} ${fresh ? "fresh" : ""}` },
        el("td", { class: "num", text: event.step }),
        el("td", { text: event.machine }),
        el("td", { class: "mono", text: event.method }),
        el("td", {}, el("span", { class: "args mono", title: JSON.stringify(event.args), text: compact(event.args) })),
        el("td", { class: "mono small", text: failed ? event.error : compact(event.result) }),
        el("td", { class: "num", text: fmtMs(event.duration_ms) })));
    }

    function updateStepsInfo() {
      const shown = steps.childElementCount;
      stepsInfo.textContent = state.stepsDone ? `${shown} steps` : `${shown} of ${state.stepsTotal} steps shown`;
      moreButton.hidden = allButton.hidden = state.stepsDone;
    }

    async function loadSteps() {
      if (state.stepsDone) return;
      moreButton.disabled = allButton.disabled = true;
      try {
        const page = await api(`${path}/steps`, { query: { after: state.stepsNext, limit: STEP_PAGE } });
        for (const step of page.steps) if (step.step > state.lastStep) addStep(step, false);
        state.stepsTotal = Math.max(state.stepsTotal, page.steps_total);
        state.stepsNext = page.next_after;
        state.stepsDone = page.next_after === null;
      } finally {
        moreButton.disabled = allButton.disabled = false;
        updateStepsInfo();
      }
    }

    async function loadAllSteps() {
      try {
        while (!state.stepsDone && !state.closed) await loadSteps();
      } catch (err) {
        toast(err.message, "error");
      }
    }

    // A live step is appended only once every earlier page is shown; until then it only raises the count.
    function onStep(event, fresh) {
      state.stepsTotal = Math.max(state.stepsTotal, event.step);
      if (state.stepsDone && event.step > state.lastStep) addStep(event, fresh);
      updateStepsInfo();
    }

    // -- the timeline: newest first, the most recent MAX_TIMELINE_ROWS rows

    function addEvent(frame, fresh) {
      const event = frame.event || {};
      const note = describeEvent(frame.type, event);
      events.prepend(el("tr", { class: fresh ? "fresh" : "" },
        el("td", { class: "num", text: frame.seq }),
        el("td", {}, el("strong", { text: frame.type }), note ? el("span", { class: "muted", text: `  ${note}` }) : null),
        el("td", { class: "small muted", text: fmtTime(event.occurred_at) })));
      if (events.childElementCount > MAX_TIMELINE_ROWS) {
        events.lastElementChild.remove();
        state.hiddenEvents += 1;
        eventsInfo.hidden = false;
        eventsInfo.textContent = `${state.hiddenEvents} earlier events not shown (every step is in the Steps table)`;
      }
    }

    function onFrame(frame, fresh) {
      if (frame.seq <= state.lastSeq) return;
      state.lastSeq = frame.seq;
      const event = frame.event || {};
      addEvent(frame, fresh);
      if (frame.type === "StepCompleted") return onStep(event, fresh);
      if (frame.type === "RunControlRequested" && fresh) {
        if (event.action === "cancel") state.cancelRequested = true;
        if (event.action === "pause" || event.action === "resume") state.pauseRequested = event.action === "pause";
      }
      if (event.status) state.status = event.status;
      if (event.parked && state.run) state.run.parked = event.parked;
      if (state.status) applyState();
      scheduleReload();
    }

    function setLive(on, text) {
      live.classList.toggle("on", on);
      live.lastChild.textContent = text;
    }

    function connect() {
      const url = new URL(`${API}/runs/${encodeURIComponent(runId)}/events`, location.href);
      url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
      url.searchParams.set("after", state.lastSeq);
      if (apiKey.get()) url.searchParams.set("api_key", apiKey.get());
      const socket = new WebSocket(url);
      state.socket = socket;
      let replaying = true;
      socket.onopen = () => setLive(true, "live");
      socket.onmessage = (message) => {
        onFrame(JSON.parse(message.data), !replaying);
      };
      setTimeout(() => (replaying = false), 800);
      socket.onclose = (event) => {
        if (state.closed) return;
        if (event.code === 1000) return setLive(false, "finished");
        if (event.code === 4404) return setLive(false, "unknown run");
        setLive(false, "reconnecting…");
        state.retry = setTimeout(connect, 2000);
      };
    }

    try {
      // A run submitted a moment ago may not have reached the scheduler or the executor yet.
      for (let attempt = 0; ; attempt++) {
        try {
          await loadDetail();
          break;
        } catch (err) {
          if (err.status !== 404 || attempt >= 10 || state.closed) throw err;
          await new Promise((resolve) => setTimeout(resolve, 400));
        }
      }
      await loadSteps();
    } catch (err) {
      if (err.status === 404) {
        if (state.closed) return;
        view.replaceChildren(el("div", { class: "panel empty", text: `No run ${runId}.` }));
        return;
      }
      toast(err.message, "error");
    }
    connect();
  }

  // ---------------------------------------------------------------------------------------------- benches

  async function viewBenches() {
    const cards = el("div", { class: "grid" });
    view.append(pageHead("Benches", "Machines on each bench, as their agents announce them."), cards);

    async function load() {
      const { benches } = await api("/benches");
      cards.replaceChildren(...(benches.length ? benches.map((b) => el("section", { class: "panel flush" },
        el("div", { class: "page-head", style: "padding:16px 20px 0;margin:0" },
          el("div", { class: "row", style: "align-items:center" },
            el("span", { class: `online-dot ${b.online ? "on" : "off"}` }),
            el("h2", { text: b.bench_id, style: "margin:0" }),
            el("span", { class: `badge ${b.online ? "online" : "offline"}`, text: b.online ? "online" : "offline" }),
            b.simulated ? el("span", { class: "badge simulated", text: "simulated" }) : null),
          el("span", { class: "muted small", text: `heartbeat ${ago(b.last_heartbeat)}` })),
        el("table", {},
          el("thead", {}, el("tr", {}, ["Machine", "Category", "Frontend", "Backend", "Status", "Capabilities"].map((h) => el("th", { text: h })))),
          el("tbody", {}, b.machines.map((m) => el("tr", {},
            el("td", { class: "mono", text: m.name }),
            el("td", { text: (m.category || "").replace("_", " ") }),
            el("td", { title: m.frontend, text: shortType(m.frontend) }),
            el("td", { title: m.backend, text: shortType(m.backend) }),
            el("td", {}, badge(m.status)),
            el("td", {}, el("div", { class: "chips" }, (m.capabilities || []).map((c) => el("span", { class: "chip", text: c }))))))))))
        : [el("div", { class: "panel empty", text: "No bench has announced itself yet. Start a hardware agent." })]));
    }

    await load();
    every(5000, () => load().catch(() => {}));
  }

  // ---------------------------------------------------------------------------------------------- queue & reservations

  async function viewQueue() {
    const queueBody = el("tbody");
    const reservationsBody = el("tbody");
    const assetFilter = el("input", { type: "text", placeholder: "filter by asset id" });
    const released = el("input", { type: "checkbox" });
    const conflict = el("div");
    const toLocal = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
    const start = new Date(Date.now() + 3600e3);
    start.setMinutes(0, 0, 0);
    const form = {
      asset: el("input", { type: "text", required: true, placeholder: "bench-1/starlet" }),
      starts: el("input", { type: "datetime-local", required: true, value: toLocal(start) }),
      ends: el("input", { type: "datetime-local", required: true, value: toLocal(new Date(start.getTime() + 7200e3)) }),
      purpose: el("input", { type: "text", placeholder: "calibration, maintenance, …" }),
    };

    view.append(
      pageHead("Queue & reservations", "Runs waiting for assets, and who holds which asset when."),
      el("section", { class: "panel flush" }, el("h2", { text: "Queue" }),
        el("table", {}, el("thead", {}, el("tr", {}, ["#", "Run", "Protocol", "Priority", "Status", "ETA", "Why waiting"].map((h) => el("th", { text: h })))),
          queueBody)),
      el("div", { class: "grid two", style: "margin-top:16px" },
        el("form", { class: "panel", onsubmit: book },
          el("h2", { text: "Book an asset" }),
          el("label", { class: "field" }, el("span", { class: "name", text: "Asset" }), form.asset),
          el("div", { class: "row" },
            el("label", { class: "field" }, el("span", { class: "name", text: "From" }), form.starts),
            el("label", { class: "field" }, el("span", { class: "name", text: "Until" }), form.ends)),
          el("label", { class: "field" }, el("span", { class: "name", text: "Purpose" }), form.purpose),
          conflict,
          el("div", { class: "actions" }, el("button", { class: "primary", type: "submit", text: "Book" }))),
        el("section", { class: "panel flush" },
          el("div", { class: "page-head", style: "padding:16px 20px 0;margin:0" }, el("h2", { text: "Reservations", style: "margin:0" }),
            el("div", { class: "row", style: "align-items:center" }, assetFilter,
              el("label", { class: "check", style: "margin:0" }, released, el("span", { class: "small", text: "released too" })))),
          el("table", {}, el("thead", {}, el("tr", {}, ["Asset", "Owner", "Purpose", "Window", "", ""].map((h) => el("th", { text: h })))),
            reservationsBody))));

    assetFilter.addEventListener("change", () => loadReservations());
    released.addEventListener("change", () => loadReservations());

    async function loadQueue() {
      const { entries } = await api("/queue");
      queueBody.replaceChildren(...(entries.length ? entries.map((q) => el("tr", { class: "clickable", onclick: () => (location.hash = `#/runs/${q.run_id}`) },
        el("td", { class: "num", text: q.position }),
        el("td", { class: "mono", text: shortId(q.run_id) }),
        el("td", { text: q.protocol_name }),
        el("td", { class: "num", text: q.priority }),
        el("td", {}, badge(q.status)),
        el("td", { text: q.eta ? fmtTime(q.eta) : "—" }),
        el("td", { class: "muted", text: q.why_waiting || "" }))) : [el("tr", {}, el("td", { colspan: 7, class: "empty", text: "The queue is empty." }))]));
    }

    async function loadReservations() {
      const { reservations } = await api("/reservations", { query: { asset_id: assetFilter.value.trim(), include_released: released.checked } });
      reservationsBody.replaceChildren(...(reservations.length ? reservations.map((r) => el("tr", {},
        el("td", { class: "mono", text: r.asset_id }),
        el("td", { text: `${r.owner}${r.owner_kind === "run" ? " (run)" : ""}` }),
        el("td", { text: r.purpose || "" }),
        el("td", { class: "small", text: `${fmtTime(r.starts_at)} → ${fmtTime(r.ends_at)}` }),
        el("td", {}, r.released_at ? el("span", { class: "badge", title: r.release_reason || "", text: "released" }) : el("span", { class: "badge ok", text: "held" })),
        el("td", {}, r.released_at ? null : el("button", { class: "small danger", text: "Release", onclick: () => release(r) })))) :
        [el("tr", {}, el("td", { colspan: 6, class: "empty", text: "No reservations." }))]));
    }

    async function book(event) {
      event.preventDefault();
      conflict.replaceChildren();
      try {
        await api("/reservations", { method: "POST", json: {
          asset_id: form.asset.value.trim(),
          starts_at: new Date(form.starts.value).toISOString(),
          ends_at: new Date(form.ends.value).toISOString(),
          purpose: form.purpose.value.trim(),
        } });
        toast("Booked", "ok");
        loadReservations();
      } catch (err) {
        const clash = err.body && (err.body.conflicting || err.body.reservation);
        conflict.append(el("div", { class: "field-error", text: err.message }),
          clash ? el("div", { class: "small muted", text: `held by ${clash.owner} ${fmtTime(clash.starts_at)} → ${fmtTime(clash.ends_at)}${clash.purpose ? ` (${clash.purpose})` : ""}` }) : null);
      }
    }

    async function release(reservation) {
      const reason = prompt(`Force-release ${reservation.asset_id} held by ${reservation.owner}? Reason (kept for audit):`);
      if (reason === null) return;
      if (!reason.trim()) return toast("A reason is required.", "error");
      try {
        await api(`/reservations/${encodeURIComponent(reservation.id)}`, { method: "DELETE", json: { reason } });
        toast("Released", "ok");
        loadReservations();
      } catch (err) {
        toast(err.message, "error");
      }
    }

    await Promise.all([loadQueue(), loadReservations()]);
    every(3000, () => loadQueue().catch(() => {}));
  }

  // ---------------------------------------------------------------------------------------------- health & key

  const healthButton = document.getElementById("health");
  const healthPanel = document.getElementById("health-panel");

  async function checkHealth() {
    let body;
    try {
      const response = await fetch(`${API}/health`);
      body = await response.json();
    } catch {
      body = null;
    }
    const ok = body && body.status === "ok";
    healthButton.className = `health ${ok ? "ok" : "bad"}`;
    healthButton.querySelector(".label").textContent = !body ? "gateway unreachable"
      : ok ? "all services ok" : `${body.unhealthy.join(", ")} down`;
    healthPanel.replaceChildren(el("h3", { text: "Services" }), body ? el("table", {}, el("tbody", {},
      Object.entries(body.services).map(([name, s]) => el("tr", {},
        el("td", { text: name }), el("td", {}, badge(s.status === "ok" ? "ok" : "error")),
        el("td", { class: "small muted", text: s.version ? `v${s.version} · up ${Math.round(s.uptime_s)} s` : (s.detail || "") }))))) :
      el("p", { class: "muted", text: "The gateway does not answer." }));
  }

  healthButton.addEventListener("click", () => (healthPanel.hidden = !healthPanel.hidden));
  document.addEventListener("click", (e) => {
    if (!healthPanel.hidden && !healthPanel.contains(e.target) && !healthButton.contains(e.target)) healthPanel.hidden = true;
  });

  const keyDialog = document.getElementById("key-dialog");
  const keyButton = document.getElementById("key-button");
  const keyInput = document.getElementById("key-input");

  function askForKey() {
    keyButton.hidden = false;
    if (!keyDialog.open) {
      keyInput.value = apiKey.get();
      keyDialog.showModal();
    }
  }

  keyButton.addEventListener("click", askForKey);
  keyDialog.addEventListener("close", () => {
    if (keyDialog.returnValue === "save") {
      apiKey.set(keyInput.value.trim());
      render();
    }
  });
  if (apiKey.get()) keyButton.hidden = false;

  window.addEventListener("hashchange", render);
  checkHealth();
  setInterval(() => { if (!document.hidden) checkHealth(); }, 10000);
  render();
})();
