// The view held in the URL's hash: #g=<targets of chart 1, one per line>&g=...&from=&until=&refresh=&interval=
"use strict";
(function (TD) {
  const RANGES = ["-1h", "-6h", "-24h", "-7d", "-30d"];
  const REFRESH = { off: 0, "30s": 30, "1m": 60, "5m": 300 };
  // seconds a drawn point stands for (auto: as many points as the chart is wide)
  const INTERVALS = { auto: 0, "1m": 60, "5m": 300, "1h": 3600, "1d": 86400 };
  const UNITS = { s: 1, min: 60, h: 3600, d: 86400, w: 604800, mon: 2592000, y: 31536000 };

  // seconds from `from` to `until` (graphite offsets such as -24h, "now" or epoch seconds)
  function span(from, until) {
    const now = Date.now() / 1000;
    const at = (text) => {
      if (text === "now") return now;
      if (/^[0-9]+$/.test(text)) return Number(text);
      const match = /^-([0-9]+)(s|min|h|d|w|mon|y)$/.exec(text);
      return match ? now - Number(match[1]) * UNITS[match[2]] : now;
    };
    return Math.max(1, at(until) - at(from));
  }

  function parse(hash) {
    const params = new URLSearchParams((hash || "").replace(/^#/, ""));
    const charts = params.getAll("g").map((g) => g.split("\n").filter((t) => t.trim()))
      .filter((targets) => targets.length);
    const refresh = params.get("refresh");
    const interval = params.get("interval");
    return {
      charts: charts,
      from: params.get("from") || "-24h",
      until: params.get("until") || "now",
      refresh: refresh in REFRESH ? refresh : "off",
      interval: interval in INTERVALS ? interval : "auto",
    };
  }

  function serialize(state) {
    const params = new URLSearchParams();
    state.charts.filter((targets) => targets.length).forEach((targets) => params.append("g", targets.join("\n")));
    params.set("from", state.from);
    params.set("until", state.until);
    if (state.refresh !== "off") params.set("refresh", state.refresh);
    if (state.interval && state.interval !== "auto") params.set("interval", state.interval);
    return "#" + params.toString();
  }

  TD.state = { parse: parse, serialize: serialize, span: span, RANGES: RANGES, REFRESH: REFRESH,
               INTERVALS: INTERVALS };
})(window.torusDashboard = window.torusDashboard || {});
