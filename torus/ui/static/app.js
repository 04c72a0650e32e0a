// The page: state from the URL's hash, the controls, the tree, the search and the charts.
// window.torusDashboard exposes charts (with the data each drew), state and ready (a promise).
"use strict";
(function (TD) {
  const $ = (id) => document.getElementById(id);
  TD.charts = [];
  TD.active = 0;
  TD.loads = 0;
  let timer = null;

  function toInput(value) { // epoch seconds -> datetime-local text (local time); '' otherwise
    if (!/^[0-9]+$/.test(value)) return "";
    const date = new Date(Number(value) * 1000);
    return new Date(date.getTime() - date.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  }

  function fromInput(text) {
    const ms = new Date(text).getTime();
    return Number.isFinite(ms) ? String(Math.floor(ms / 1000)) : "";
  }

  function save() {
    TD.state.current.charts = TD.charts.map((chart) => chart.targets.slice());
    const hash = TD.state.serialize(TD.state.current);
    if (location.hash !== hash) history.replaceState(null, "", hash);
  }

  function showControls() {
    const state = TD.state.current;
    document.querySelectorAll("#ranges button").forEach((button) => {
      button.setAttribute("aria-pressed", String(button.dataset.range === state.from && state.until === "now"));
    });
    $("from").value = toInput(state.from);
    $("until").value = toInput(state.until);
    $("refresh").value = state.refresh;
    $("interval").value = state.interval;
    $("empty").hidden = TD.charts.length > 0;
    TD.charts.forEach((chart, i) => chart.element.classList.toggle("active", i === TD.active));
  }

  const callbacks = {
    remove(chart) {
      const index = TD.charts.indexOf(chart);
      chart.destroy();
      TD.charts.splice(index, 1);
      TD.active = Math.max(0, Math.min(TD.active, TD.charts.length - 1));
      save(); showControls();
    },
    removeTarget(chart, target) {
      chart.targets = chart.targets.filter((t) => t !== target);
      if (!chart.targets.length) { callbacks.remove(chart); return; }
      chart.labels(); save(); chart.load(TD.state.current);
    },
    activate(chart) {
      TD.active = TD.charts.indexOf(chart);
      showControls();
    },
  };

  function addChart(targets) {
    const chart = new TD.Chart($("charts"), targets, callbacks);
    TD.charts.push(chart);
    TD.active = TD.charts.length - 1;
    return chart;
  }

  function plot(target, fresh) {
    target = target.trim();
    if (!target) return;
    let chart = !fresh && TD.charts[TD.active];
    if (!chart) chart = addChart([target]);
    else if (!chart.targets.includes(target)) { chart.targets.push(target); chart.labels(); }
    save(); showControls();
    return chart.load(TD.state.current).then(() => chart.element.scrollIntoView({ block: "nearest" }));
  }

  function reloadAll() {
    TD.loads += 1;
    return Promise.all(TD.charts.map((chart) => chart.load(TD.state.current))).then(() => {
      TD.drawnAt = performance.now();
    });
  }

  function setRange(from, until) {
    Object.assign(TD.state.current, { from: from, until: until });
    save(); showControls();
    return reloadAll();
  }

  function setInterval_(value) {
    TD.state.current.interval = value;
    save();
    return reloadAll();
  }

  function setRefresh(value) {
    TD.state.current.refresh = value;
    if (timer) clearInterval(timer);
    const seconds = TD.state.REFRESH[value];
    timer = seconds ? setInterval(reloadAll, seconds * 1000) : null;
    save();
  }

  async function search(query) {
    const status = $("search-status");
    const list = $("results");
    list.replaceChildren();
    status.textContent = "Searching…";
    try {
      const answer = await TD.api.get("/metrics/expand", { query: query, leavesOnly: "1" });
      const found = answer.results || [];
      status.textContent = found.length ? found.length + " metric(s) match " + query : "Nothing matches " + query;
      list.replaceChildren(...found.slice(0, 200).map((path) => {
        const li = document.createElement("li");
        const button = document.createElement("button");
        button.type = "button";
        button.className = "leaf";
        button.textContent = path;
        button.addEventListener("click", () => plot(path));
        li.appendChild(button);
        return li;
      }));
    } catch (err) {
      status.textContent = err.message;
    }
  }

  function wire() {
    $("ranges").addEventListener("click", (event) => {
      const range = event.target.dataset && event.target.dataset.range;
      if (range) setRange(range, "now");
    });
    $("custom-range").addEventListener("submit", (event) => {
      event.preventDefault();
      const from = fromInput($("from").value);
      const until = fromInput($("until").value) || "now";
      if (from) setRange(from, until);
    });
    $("refresh").addEventListener("change", (event) => setRefresh(event.target.value));
    $("interval").addEventListener("change", (event) => setInterval_(event.target.value));
    $("copy-link").addEventListener("click", async () => {
      try { await navigator.clipboard.writeText(location.href); $("copy-link").textContent = "Link copied"; }
      catch (err) { window.prompt("Copy this link", location.href); }
    });
    $("search").addEventListener("submit", (event) => { event.preventDefault(); search($("query").value.trim()); });
    $("plot").addEventListener("click", () => plot($("query").value));
    $("new-chart").addEventListener("click", () => { TD.active = TD.charts.length; showControls(); $("query").focus(); });
    window.addEventListener("resize", () => TD.charts.forEach((chart) => chart.resize()));
    window.addEventListener("hashchange", () => {
      if (location.hash !== TD.state.serialize(TD.state.current)) start();
    });
  }

  function start() {
    TD.charts.forEach((chart) => chart.destroy());
    TD.charts = [];
    TD.state.current = TD.state.parse(location.hash);
    TD.state.current.charts.forEach((targets) => addChart(targets.slice()));
    TD.active = 0;
    showControls();
    setRefresh(TD.state.current.refresh);
    return reloadAll();
  }

  document.addEventListener("DOMContentLoaded", () => {
    wire();
    TD.ready = Promise.all([TD.tree.start($("tree"), (path) => plot(path)), start()]);
  });
})(window.torusDashboard = window.torusDashboard || {});
