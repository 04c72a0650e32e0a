// One chart: its targets drawn by uPlot from /render?format=json, maxDataPoints = its width.
"use strict";
(function (TD) {
  const COLORS = ["#1f5fbf", "#c2410c", "#15803d", "#9333ea", "#b91c1c", "#0e7490", "#a16207",
                  "#be185d", "#4d7c0f", "#475569"];

  // [[x...], [y of series 1...], ...] from graphite's [{target, datapoints: [[v, t]...]}]
  function align(answer) {
    const first = answer.length ? answer[0].datapoints : [];
    const same = answer.every((s) => s.datapoints.length === first.length &&
      (!first.length || (s.datapoints[0][1] === first[0][1] && s.datapoints[first.length - 1][1] === first[first.length - 1][1])));
    if (same) { // the usual case: one step, one window for every series
      return [first.map((p) => p[1])].concat(answer.map((s) => s.datapoints.map((p) => p[0])));
    }
    const stamps = new Set();
    answer.forEach((s) => s.datapoints.forEach((p) => stamps.add(p[1])));
    const xs = Array.from(stamps).sort((a, b) => a - b);
    const position = new Map(xs.map((x, i) => [x, i]));
    const data = [xs];
    answer.forEach((s) => {
      const ys = new Array(xs.length).fill(null);
      s.datapoints.forEach((p) => { ys[position.get(p[1])] = p[0]; });
      data.push(ys);
    });
    return data;
  }

  function size(element) {
    const width = Math.max(280, Math.floor(element.clientWidth || 600));
    return { width: width, height: width < 600 ? 220 : 300 };
  }

  // how many points to ask for: the chart's width, or one per chosen interval (graphite-web
  // then averages each interval's values into one point)
  function points(range, width) {
    const seconds = TD.state.INTERVALS[range.interval || "auto"];
    return seconds ? Math.max(1, Math.ceil(TD.state.span(range.from, range.until) / seconds)) : width;
  }

  class Chart {
    constructor(container, targets, callbacks) {
      this.targets = targets;
      this.data = [[]];
      this.names = [];
      this.element = document.createElement("section");
      this.element.className = "chart";
      this.element.dataset.status = "loading";
      const head = document.createElement("div");
      head.className = "chart-head";
      this.title = document.createElement("h2");
      this.chips = document.createElement("ul");
      this.chips.className = "chips";
      const remove = document.createElement("button");
      remove.type = "button";
      remove.textContent = "Remove chart";
      remove.addEventListener("click", () => callbacks.remove(this));
      head.append(this.title, remove);
      this.message = document.createElement("p");
      this.message.className = "status";
      this.message.setAttribute("role", "status");
      this.plotBox = document.createElement("div");
      this.plotBox.className = "plot";
      this.element.append(head, this.chips, this.message, this.plotBox);
      this.element.addEventListener("click", () => callbacks.activate(this));
      this.element.addEventListener("focusin", () => callbacks.activate(this));
      this.callbacks = callbacks;
      container.appendChild(this.element);
      this.labels();
    }

    labels() {
      this.title.textContent = this.targets.join(", ");
      this.chips.replaceChildren(...this.targets.map((target) => {
        const li = document.createElement("li");
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = "×";
        button.setAttribute("aria-label", "Remove " + target);
        button.addEventListener("click", (event) => {
          event.stopPropagation();
          this.callbacks.removeTarget(this, target);
        });
        const code = document.createElement("code");
        code.textContent = target;
        li.append(code, button);
        return li;
      }));
    }

    async load(range) {
      const { width, height } = size(this.plotBox);
      this.element.dataset.status = "loading";
      let answer;
      try {
        answer = await TD.api.get("/render", {
          target: this.targets, from: range.from, until: range.until, format: "json",
          maxDataPoints: String(points(range, width)),
        });
      } catch (err) {
        this.element.dataset.status = "error";
        this.message.textContent = err.message;
        this.message.className = "status error";
        return;
      }
      this.names = answer.map((s) => s.target);
      this.data = align(answer);
      this.message.className = "status";
      this.message.textContent = answer.length ? "" : "No data for " + this.targets.join(", ") + " in this range.";
      this.draw(width, height);
      this.element.dataset.points = String(this.data[0].length);
      this.element.dataset.series = String(this.names.length);
      this.element.dataset.status = "ready";
    }

    draw(width, height) {
      const series = [{}].concat(this.names.map((name, i) => ({
        label: name, stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: false,
        points: { show: this.data[0].length < 80 },
      })));
      if (this.plot) this.plot.destroy();
      this.plot = new uPlot({
        width: width, height: height, series: series,
        scales: { x: { time: true } },
        legend: { live: true },
        focus: { alpha: 0.5 }, // dimmed series (and their legend) stay readable
        cursor: { focus: { prox: 16 } },
      }, this.data, this.plotBox);
    }

    resize() {
      if (!this.plot) return;
      const { width, height } = size(this.plotBox);
      this.plot.setSize({ width: width, height: height });
    }

    destroy() {
      if (this.plot) this.plot.destroy();
      this.element.remove();
    }
  }

  TD.Chart = Chart;
  TD.align = align;
})(window.torusDashboard = window.torusDashboard || {});
