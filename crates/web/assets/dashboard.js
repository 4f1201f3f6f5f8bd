// The dashboard's one script (served from /app/static/, as the Content-Security-Policy
// requires): draws the charts from the data-* attributes the server wrote, and submits the
// sign-in form. Every page reads fine without it.
"use strict";

(function () {
  var palette = ["#2962ff", "#e91e63", "#ff9800", "#009688", "#9c27b0", "#795548", "#607d8b", "#4caf50"];

  function baseChart(el, height) {
    return LightweightCharts.createChart(el, {
      height: height,
      layout: { background: { color: "#ffffff" }, textColor: "#1d2733" },
      grid: { vertLines: { color: "#eef1f4" }, horzLines: { color: "#eef1f4" } },
      rightPriceScale: { borderColor: "#dde2e8" },
      timeScale: { borderColor: "#dde2e8" },
      crosshair: { mode: LightweightCharts.CrosshairMode.Normal }
    });
  }

  function movingAverage(bars, n) {
    var out = [], sum = 0;
    for (var i = 0; i < bars.length; i++) {
      sum += bars[i].close;
      if (i >= n) sum -= bars[i - n].close;
      if (i >= n - 1) out.push({ time: bars[i].time, value: sum / n });
    }
    return out;
  }

  function rollingHigh(bars, n) {
    var out = [];
    for (var i = 0; i < bars.length; i++) {
      var hi = -Infinity;
      for (var j = Math.max(0, i - n + 1); j <= i; j++) hi = Math.max(hi, bars[j].high);
      out.push({ time: bars[i].time, value: hi });
    }
    return out;
  }

  function candles(el) {
    var bars = JSON.parse(el.dataset.bars);
    var chart = baseChart(el, 420);
    chart.addCandlestickSeries({
      upColor: "#26a69a", downColor: "#ef5350", borderVisible: false,
      wickUpColor: "#26a69a", wickDownColor: "#ef5350"
    }).setData(bars);
    var volume = chart.addHistogramSeries({ priceFormat: { type: "volume" }, priceScaleId: "volume" });
    chart.priceScale("volume").applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
    volume.setData(bars.map(function (b) {
      return { time: b.time, value: b.volume, color: b.close >= b.open ? "rgba(38,166,154,0.45)" : "rgba(239,83,80,0.45)" };
    }));
    chart.addLineSeries({ color: "#2962ff", lineWidth: 1, priceLineVisible: false, lastValueVisible: false }).setData(movingAverage(bars, 50));
    chart.addLineSeries({ color: "#ff9800", lineWidth: 1, priceLineVisible: false, lastValueVisible: false }).setData(movingAverage(bars, 200));
    chart.addLineSeries({ color: "#9c27b0", lineWidth: 1, lineStyle: 2, priceLineVisible: false, lastValueVisible: false }).setData(rollingHigh(bars, 252));
    chart.timeScale().fitContent();
  }

  function lines(el) {
    var series = JSON.parse(el.dataset.series);
    var chart = baseChart(el, 320);
    Object.keys(series).forEach(function (name, i) {
      var color = name === "benchmark" ? "#1d2733" : palette[i % palette.length];
      chart.addLineSeries({ color: color, lineWidth: name === "benchmark" ? 2 : 1, title: name, priceLineVisible: false }).setData(series[name]);
    });
    chart.timeScale().fitContent();
  }

  function start() {
    var form = document.querySelector("form[data-auto-submit]");
    if (form) form.submit();
    if (typeof LightweightCharts === "undefined") return;
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      try {
        if (el.dataset.chart === "candles") candles(el);
        else if (el.dataset.chart === "lines") lines(el);
        el.dataset.drawn = "true";
      } catch (e) {
        el.dataset.drawn = "failed: " + e;
      }
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
