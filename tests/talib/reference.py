#!/usr/bin/env python3
"""TA-Lib reference values for screener-analytics.

Reads real daily prices (AAPL, IBM, MSFT, GOOG, FB; 2000-2013, unadjusted) from the
PyPI package `bokeh_sampledata` and writes to OUT_DIR:

  bars.csv       symbol,date,open,high,low,close,volume
  reference.csv  symbol,date, then TA-Lib's output under the crate's column names:
                 sma_20 sma_50 sma_200 (SMA), ema_12 ema_26 (EMA), rsi_14 (RSI),
                 atr_14 (ATR), high_52w low_52w (MAX/MIN of close over 252 bars).
                 TA-Lib's NaN (warm-up) is an empty cell; floats are written with
                 repr(), which reads back to the same double.

Usage: reference.py OUT_DIR
Needs: pip install TA-Lib bokeh_sampledata numpy
"""

import csv
import gzip
import importlib.resources
import math
import os
import sys

import numpy as np
import talib

SYMBOLS = ["AAPL", "FB", "GOOG", "IBM", "MSFT"]


def load_rows():
    path = importlib.resources.files("bokeh_sampledata") / "_data" / "stocks.csv.gz"
    with path.open("rb") as raw, gzip.open(raw, "rt", newline="") as f:
        reader = csv.DictReader(f)
        rows = {s: [] for s in SYMBOLS}
        for r in reader:
            if r["Ticker"] in rows:
                rows[r["Ticker"]].append(r)
    for s in SYMBOLS:
        rows[s].sort(key=lambda r: r["Date"])
    return rows


def cell(x):
    x = float(x)
    return "" if math.isnan(x) else repr(x)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    rows = load_rows()
    names = ["sma_20", "sma_50", "sma_200", "ema_12", "ema_26", "rsi_14", "atr_14",
             "high_52w", "low_52w"]
    with open(os.path.join(out_dir, "bars.csv"), "w", newline="") as bf, \
         open(os.path.join(out_dir, "reference.csv"), "w", newline="") as rf:
        bars = csv.writer(bf, lineterminator="\n")
        ref = csv.writer(rf, lineterminator="\n")
        bars.writerow(["symbol", "date", "open", "high", "low", "close", "volume"])
        ref.writerow(["symbol", "date"] + names)
        for s in SYMBOLS:
            rs = rows[s]
            o, h, l, c = (np.array([float(r[k]) for r in rs], dtype=np.float64)
                          for k in ("Open", "High", "Low", "Close"))
            v = [r["Volume"] for r in rs]
            outputs = [
                talib.SMA(c, 20), talib.SMA(c, 50), talib.SMA(c, 200),
                talib.EMA(c, 12), talib.EMA(c, 26), talib.RSI(c, 14),
                talib.ATR(h, l, c, 14), talib.MAX(c, 252), talib.MIN(c, 252),
            ]
            for i, r in enumerate(rs):
                bars.writerow([s, r["Date"], repr(float(o[i])), repr(float(h[i])), repr(float(l[i])), repr(float(c[i])), v[i]])
                ref.writerow([s, r["Date"]] + [cell(out[i]) for out in outputs])
    print(f"wrote {sum(len(r) for r in rows.values())} bars for {len(SYMBOLS)} symbols "
          f"to {out_dir} (TA-Lib {talib.__ta_version__.decode()})")


if __name__ == "__main__":
    main()
