// The view held in the URL's hash: #g=<targets of chart 1, one per line>&g=...&from=&until=&refresh=
"use strict";
(function (TD) {
  const RANGES = ["-1h", "-6h", "-24h", "-7d", "-30d"];
  const REFRESH = { off: 0, "30s": 30, "1m": 60, "5m": 300 };

  function parse(hash) {
    const params = new URLSearchParams((hash || "").replace(/^#/, ""));
    const charts = params.getAll("g").map((g) => g.split("\n").filter((t) => t.trim()))
      .filter((targets) => targets.length);
    const refresh = params.get("refresh");
    return {
      charts: charts,
      from: params.get("from") || "-24h",
      until: params.get("until") || "now",
      refresh: refresh in REFRESH ? refresh : "off",
    };
  }

  function serialize(state) {
    const params = new URLSearchParams();
    state.charts.filter((targets) => targets.length).forEach((targets) => params.append("g", targets.join("\n")));
    params.set("from", state.from);
    params.set("until", state.until);
    if (state.refresh !== "off") params.set("refresh", state.refresh);
    return "#" + params.toString();
  }

  TD.state = { parse: parse, serialize: serialize, RANGES: RANGES, REFRESH: REFRESH };
})(window.torusDashboard = window.torusDashboard || {});
