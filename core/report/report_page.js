// The report page's script: draws the charts from the data the page embeds (report.cpp), one
// uPlot per chart with every run overlaid, then checks that each chart drew and says so in
// #report-status (and the page title), with the time the page took.
(function () {
  "use strict";
  const status = document.getElementById("report-status");
  window.addEventListener("error", function (event) {
    status.textContent = "error: " + event.message;
    document.title = "ringtrain report: error";
  });
  const data = JSON.parse(document.getElementById("report-data").textContent);
  const palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
  const charts = [];

  function color(run, k) { return palette[(run * 3 + k) % palette.length]; }

  // Joins several (x, y) series onto one sorted x axis (null where a series has no point).
  function join(series) {
    const xs = Array.from(new Set([].concat(...series.map(s => s.x)))).sort((a, b) => a - b);
    const at = new Map(xs.map((x, i) => [x, i]));
    const columns = series.map(s => {
      const column = new Array(xs.length).fill(null);
      s.x.forEach((x, i) => { column[at.get(x)] = s.y[i]; });
      return column;
    });
    return [xs].concat(columns);
  }

  function chart(title, xLabel, yLabel, series, options) {
    options = options || {};
    const box = document.createElement("div");
    box.className = "chart";
    document.getElementById("charts").appendChild(box);
    if (series.length === 0 || series.every(s => s.x.length === 0)) {
      box.innerHTML = "<h3></h3><p class='empty'>no data</p>";
      box.querySelector("h3").textContent = title;
      return;
    }
    const width = Math.max(320, Math.min(620, document.body.clientWidth / 2 - 30));
    const plot = new uPlot({
      title: title,
      width: width,
      height: 260,
      scales: { x: { time: false }, y: options.log ? { distr: 3 } : {} },
      axes: [{ label: xLabel }, { label: yLabel, size: 60 }],
      series: [{ label: xLabel }].concat(series.map(s => ({
        label: s.label, stroke: s.color, width: 1.5, spanGaps: true,
        paths: options.bars ? uPlot.paths.bars({ size: [0.9] }) : undefined,
        fill: options.bars ? s.color + "55" : undefined,
        points: { show: s.x.length < 60 }
      }))),
      legend: { live: false }
    }, join(series), box);
    charts.push(plot);
  }

  function perRank(run, key, scale) {
    const rows = run.train[key] || [];
    const ranks = rows.reduce((most, v) => Math.max(most, v.length), 0);
    const out = [];
    for (let r = 0; r < ranks; ++r) {
      out.push({
        x: run.train.step, y: rows.map(v => (v[r] == null ? null : v[r] * scale)),
        label: (data.runs.length > 1 ? run.name + " " : "") + "rank " + r, color: palette[(r + 3 * data.runs.indexOf(run)) % palette.length]
      });
    }
    return out;
  }

  const runs = data.runs;
  const many = runs.length > 1;
  const name = (run, what) => (many ? run.name + " " : "") + what;
  chart("Loss", "step", "loss", [].concat(...runs.map((run, i) => [
    { x: run.train.step, y: run.train.loss, label: name(run, "train"), color: color(i, 0) },
    { x: run.eval.step, y: run.eval.loss, label: name(run, "evaluation"), color: color(i, 1) }])));
  chart("Accuracy", "step", "accuracy", [].concat(...runs.map((run, i) => [
    { x: run.train.step, y: run.train.accuracy, label: name(run, "train"), color: color(i, 0) },
    { x: run.eval.step, y: run.eval.accuracy, label: name(run, "evaluation"), color: color(i, 1) }])));
  chart("Loss against time", "seconds", "loss", [].concat(...runs.map((run, i) => [
    { x: run.train.seconds, y: run.train.loss, label: name(run, "train"), color: color(i, 0) },
    { x: run.eval.seconds, y: run.eval.loss, label: name(run, "evaluation"), color: color(i, 1) }])));
  chart("Throughput", "step", runs.some(r => r.tokens) ? "tokens/s" : "samples/s", runs.map((run, i) => (
    { x: run.train.step, y: run.train.rate, label: name(run, run.tokens ? "tokens/s" : "samples/s"), color: color(i, 0) })));
  chart("Learning rate", "step", "lr", runs.map((run, i) => (
    { x: run.train.step, y: run.train.lr, label: name(run, "lr"), color: color(i, 0) })));
  chart("Step time", "step", "ms", [].concat(...runs.map((run, i) => [
    { x: run.train.step, y: run.train.step_ms, label: name(run, "mean"), color: color(i, 0) },
    { x: run.train.step, y: run.train.step_ms_max, label: name(run, "slowest"), color: color(i, 1) }])));
  chart("Step-time distribution (rows' mean step time)", "ms", "rows", runs.map((run, i) => (
    { x: run.step_histogram.ms, y: run.step_histogram.rows, label: name(run, "rows"), color: color(i, 0) })), { bars: !many });
  chart("Data wait per rank", "step", "% of step time", [].concat(...runs.map(run => perRank(run, "data_wait", 100))));
  chart("Gradient wait per rank", "step", "% of step time", [].concat(...runs.map(run => perRank(run, "gradient_wait", 100))));
  chart("CPU per rank", "step", "% of one core", [].concat(...runs.map(run => perRank(run, "cpu_percent", 1))));
  chart("Memory per rank", "step", "MiB", [].concat(...runs.map(run => perRank(run, "memory_mb", 1))));

  // Each chart drew: pixels of its canvas that are not blank. uPlot draws in a microtask after it
  // is made, so look once the page's own tasks are done.
  setTimeout(function () {
    let drawn = 0;
    for (const plot of charts) {
      const canvas = plot.ctx.canvas;
      const pixels = plot.ctx.getImageData(0, 0, canvas.width, canvas.height).data;
      let painted = 0;
      for (let k = 3; k < pixels.length; k += 4) if (pixels[k] !== 0) ++painted;
      if (painted > 100) ++drawn;
    }
    const milliseconds = Math.round(performance.now());
    status.textContent = "drawn " + drawn + " of " + charts.length + " charts in " + milliseconds + " ms";
    document.title = "ringtrain report: " + status.textContent;
  }, 0);
})();
