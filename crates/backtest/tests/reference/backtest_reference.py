#!/usr/bin/env python3
"""The backtest of shared/specs/backtest.md computed with the libraries it names, as the
reference `crates/backtest` is tested against (tests/it/reference.rs).

    backtest_reference.py --bars BARS.csv[.gz] --signals SIGNALS.csv --screens SCREENS.toml \
        --start 2014-01-01 [--end D] --every 5 --cost-bps 10 --horizons 1,5,21,63 --out OUT.json

* The calendar, eligibility, screening (conditions, order, ties, nulls last, limit), targets,
  forward returns and the inputs of every library call are computed here with pandas, from
  the bars file and the screens file.
* SIGNALS.csv is the indicator matrix `screener indicators` writes (screener-analytics'
  `compute_indicators`, checked against TA-Lib elsewhere): `symbol,date` and the indicator
  columns the screens use. Only the indicators come from our code.
* The portfolio is vectorbt's `Portfolio.from_orders` with the S5 settings; the return
  statistics are empyrical-reloaded's (S7, S8), cross-checked against vectorbt's accessor
  where S8 says the two agree; the factor analysis is alphalens-reloaded's
  `get_clean_factor_and_forward_returns`, `factor_information_coefficient`,
  `mean_return_by_quantile` and `compute_mean_returns_spread`.

Prints nothing but errors; writes JSON (NaN as null) to --out. `--timing` adds the wall time
of each phase.
"""

import argparse
import contextlib
import io
import json
import math
import sys
import time
import tomllib
import warnings

import numpy as np
import pandas as pd

warnings.filterwarnings("ignore")

import alphalens.performance as al_perf  # noqa: E402
import alphalens.utils as al_utils  # noqa: E402
import empyrical as ep  # noqa: E402
import vectorbt as vbt  # noqa: E402

BAR_METRICS = ["open", "high", "low", "close", "volume"]
OPS = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


def parse_condition(text):
    """`metric op value` or `metric op metric` (the screens file's syntax)."""
    s = text.strip()
    i = 0
    while i < len(s) and (s[i].isalnum() or s[i] == "_"):
        i += 1
    lhs = s[:i]
    rest = s[i:].lstrip()
    j = 0
    while j < len(rest) and rest[j] in "<>=!":
        j += 1
    op = rest[:j]
    rhs = rest[j:].strip()
    try:
        value = float(rhs.replace("_", ""))
        return lhs, op, ("value", value)
    except ValueError:
        return lhs, op, ("metric", rhs)


def load_screens(path):
    with open(path, "rb") as f:
        raw = tomllib.load(f)
    screens = []
    for s in raw["screen"]:
        direction = s["sort"].get("direction", "asc").strip().lower()
        screens.append(
            {
                "name": s["name"],
                "conditions": [parse_condition(c) for c in s["conditions"]],
                "sort_metric": s["sort"]["metric"].strip(),
                "descending": direction in ("desc", "descending"),
                "limit": s.get("limit", 25),
            }
        )
    return screens


def valid_price(frame):
    """Prices that are not finite and > 0 are missing."""
    return frame.where(np.isfinite(frame) & (frame > 0))


def nan_to_none(x):
    if isinstance(x, dict):
        return {k: nan_to_none(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [nan_to_none(v) for v in x]
    if isinstance(x, (float, np.floating)):
        x = float(x)
        return x if math.isfinite(x) else None
    if isinstance(x, (np.integer,)):
        return int(x)
    return x


def select(day_rows, screen):
    """The ranked selection of one screen among one date's eligible rows."""
    passing = pd.Series(True, index=day_rows.index)
    for lhs, op, (kind, rhs) in screen["conditions"]:
        a = day_rows[lhs]
        b = rhs if kind == "value" else day_rows[rhs]
        # A null on either side makes the condition false (`!=` included).
        ok = OPS[op](a, b) & a.notna()
        if kind == "metric":
            ok &= b.notna()
        passing &= ok.fillna(False).astype(bool)
    chosen = day_rows[passing]
    chosen = chosen.sort_values(
        [screen["sort_metric"], "symbol"],
        ascending=[not screen["descending"], True],
        na_position="last",
        kind="mergesort",
    )
    return list(chosen["symbol"].head(screen["limit"]))


def return_stats(equity):
    """S7's return statistics with empyrical (daily, 252 a year), returns after t0."""
    r = equity.pct_change().iloc[1:]
    out = {
        "total_return": float(equity.iloc[-1] / equity.iloc[0] - 1),
        "cagr": ep.annual_return(r, period="daily"),
        "annual_volatility": ep.annual_volatility(r, period="daily"),
        "sharpe": ep.sharpe_ratio(r, period="daily"),
        "sortino": ep.sortino_ratio(r, period="daily"),
        "max_drawdown": ep.max_drawdown(r),
        "calmar": ep.calmar_ratio(r, period="daily"),
    }
    if len(r) == 0:
        for k in ("cagr", "annual_volatility", "sharpe", "sortino", "calmar"):
            out[k] = float("nan")
    for k in ("sharpe", "sortino", "calmar"):
        if not np.isfinite(out[k]):
            out[k] = float("nan")
    return {k: float(v) for k, v in out.items()}


def vectorbt_stats(pf, n_returns):
    """The numbers S8 says vectorbt agrees on, from vectorbt itself: total return, and with
    the year set to 252 days, CAGR/volatility/Sharpe/Sortino over the returns after t0 and
    the max drawdown over all N+1 returns (the t0 row, return 0, in front)."""
    rets = pf.returns()
    after_t0 = rets.iloc[1:]
    acc = after_t0.vbt.returns(freq="1D", year_freq="252 days")
    full = rets.vbt.returns(freq="1D", year_freq="252 days")
    out = {
        "total_return": float(pf.total_return()),
        "max_drawdown": float(full.max_drawdown()),
    }
    if n_returns >= 2:
        out["cagr"] = float(acc.annualized())
        out["annual_volatility"] = float(acc.annualized_volatility())
        sharpe = float(acc.sharpe_ratio())
        sortino = float(acc.sortino_ratio())
        out["sharpe"] = sharpe if math.isfinite(sharpe) else float("nan")
        out["sortino"] = sortino if math.isfinite(sortino) else float("nan")
    return out


def simulate(name, closes, opens, val_price, fills, selections, fee, columns):
    """vectorbt from_orders with the S5 settings; the facts S7 asks about its orders."""
    n_rows, n_cols = closes.shape
    size = np.full((n_rows, n_cols), np.nan)
    col_of = {s: j for j, s in enumerate(columns)}
    for fill_row, chosen in zip(fills, selections):
        size[fill_row, :] = 0.0
        for s in chosen:
            size[fill_row, col_of[s]] = 1.0 / len(chosen)
    pf = vbt.Portfolio.from_orders(
        close=closes,
        size=size,
        size_type="targetpercent",
        direction="longonly",
        price=opens,
        val_price=val_price,
        fees=fee,
        slippage=0.0,
        min_size=0.0,
        init_cash=1.0,
        cash_sharing=True,
        group_by=True,
        call_seq="auto",
        update_value=False,
        freq="1D",
    )
    equity = pf.value()
    assets = pf.assets().to_numpy()
    cash = pf.cash().to_numpy()
    orders = pd.DataFrame(pf.orders.values)
    vp = val_price.to_numpy()
    op = opens.to_numpy()
    turnover, fill_facts, skipped = [], [], 0
    for fill_row, chosen in zip(fills, selections):
        held = assets[fill_row - 1]
        # The pre-trade value: cash and shares before the fill at the valuation prices.
        value = cash[fill_row - 1] + np.nansum(np.where(held != 0, held * vp[fill_row], 0.0))
        at = orders[orders["idx"] == fill_row] if len(orders) else orders
        traded = float((at["size"] * at["price"]).sum()) if len(at) else 0.0
        turnover.append(traded / value)
        target = np.zeros(n_cols, dtype=bool)
        for s in chosen:
            target[col_of[s]] = True
        fill_skipped = int(np.sum((target | (held != 0)) & np.isnan(op[fill_row])))
        skipped += fill_skipped
        fill_facts.append(
            {
                "selected": len(chosen),
                "value": float(value),
                "traded": traded,
                "fees": float(at["fees"].sum()) if len(at) else 0.0,
                "n_orders": int(len(at)),
                "n_skipped_no_open": fill_skipped,
            }
        )
    holdings = (assets > 0).sum(axis=1)[1:]
    closed = pf.positions.closed
    n_closed = int(len(closed.values))
    win_rate = float(np.asarray(closed.win_rate()).item()) if n_closed else float("nan")
    n_returns = n_rows - 1
    metrics = return_stats(equity)
    metrics.update(
        {
            "final_value": float(equity.iloc[-1]),
            "n_rebalances": len(fills),
            "n_rebalances_empty": sum(1 for s in selections if not s),
            "avg_selected": float(np.mean([len(s) for s in selections])) if fills else float("nan"),
            "avg_holdings": float(holdings.mean()) if n_returns else float("nan"),
            "turnover_first": turnover[0] if turnover else float("nan"),
            "turnover_mean": float(np.mean(turnover)) if turnover else float("nan"),
            "turnover_mean_after_first": float(np.mean(turnover[1:])) if len(turnover) > 1 else float("nan"),
            "turnover_annual": float(np.sum(turnover) * 252 / n_returns) if n_returns else float("nan"),
            "fees_paid": float(orders["fees"].sum()) if len(orders) else 0.0,
            "n_orders": int(len(orders)),
            "n_orders_skipped_no_open": skipped,
            "n_closed_positions": n_closed,
            "win_rate_closed_positions": win_rate,
        }
    )
    return {
        "name": name,
        "metrics": metrics,
        "vectorbt": vectorbt_stats(pf, n_returns),
        "equity": [float(x) for x in equity],
        "turnover": turnover,
        "fills": fill_facts,
        "selections": selections,
    }


def forward_returns(ffilled, rebalance_rows, sets, horizons, last_row):
    """Pooled over (rebalance date, symbol in the set) pairs, per horizon (S9)."""
    out = {}
    arr = ffilled.to_numpy()
    col_of = {s: j for j, s in enumerate(ffilled.columns)}
    for h in horizons:
        rets = []
        for row, chosen in zip(rebalance_rows, sets):
            if row + h > last_row:
                continue
            for s in chosen:
                j = col_of[s]
                rets.append(arr[row + h, j] / arr[row, j] - 1)
        rets = np.array(rets, dtype=float)
        out[str(h)] = {
            "mean": float(rets.mean()) if len(rets) else float("nan"),
            "hit_rate": float((rets > 0).mean()) if len(rets) else float("nan"),
            "n": int(len(rets)),
        }
    return out


def factor_analysis(factor, prices, horizons):
    """alphalens-reloaded with the S9 settings."""
    periods = tuple(horizons)
    keys = [str(h) for h in horizons]
    with contextlib.redirect_stdout(io.StringIO()):
        fwd = al_utils.compute_forward_returns(factor, prices, periods=periods, filter_zscore=None)
        offered = fwd.copy()
        offered["factor"] = factor
        offered = offered.dropna()
        fd = al_utils.get_clean_factor_and_forward_returns(
            factor, prices, quantiles=5, periods=periods, filter_zscore=None, max_loss=1.0
        )
    cols = al_utils.get_forward_returns_columns(fd.columns)
    ic = al_perf.factor_information_coefficient(fd)
    raw, _ = al_perf.mean_return_by_quantile(fd, demeaned=False)
    dem, _ = al_perf.mean_return_by_quantile(fd, demeaned=True)
    by_date, _ = al_perf.mean_return_by_quantile(fd, by_date=True, demeaned=True)
    halved, _ = al_perf.compute_mean_returns_spread(by_date, 5, 1)
    kept_dates = sorted(set(fd.index.get_level_values("date")))
    ic_kept = ic.reindex(kept_dates)
    counts = fd["factor_quantile"].value_counts()
    out = {
        "n_factor_rows": int(len(factor)),
        "n_rows": int(len(fd)),
        "n_dates": len(kept_dates),
        "n_dates_offered": int(offered.index.get_level_values("date").nunique()),
        "count_by_quantile": [int(counts.get(q, 0)) for q in range(1, 6)],
        "ic_dates": [d.strftime("%Y-%m-%d") for d in kept_dates],
        "mean_ic": {},
        "ic_n_dates": {},
        "mean_return_by_quantile": {},
        "mean_return_by_quantile_demeaned": {},
        "spread_top_minus_bottom": {},
        "spread_alphalens_halved": {},
        "ic_by_date": {},
    }
    for key, col in zip(keys, cols):
        out["mean_ic"][key] = float(ic[col].mean())
        out["ic_n_dates"][key] = int(ic[col].count())
        out["ic_by_date"][key] = [float(x) for x in ic_kept[col]]
        q_raw = [float(raw[col].get(q, np.nan)) for q in range(1, 6)]
        out["mean_return_by_quantile"][key] = q_raw
        out["mean_return_by_quantile_demeaned"][key] = [float(dem[col].get(q, np.nan)) for q in range(1, 6)]
        out["spread_top_minus_bottom"][key] = q_raw[4] - q_raw[0]
        out["spread_alphalens_halved"][key] = float(halved[col].mean())
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bars", required=True)
    ap.add_argument("--signals", required=True)
    ap.add_argument("--screens", required=True)
    ap.add_argument("--start", required=True)
    ap.add_argument("--end")
    ap.add_argument("--every", type=int, default=5)
    ap.add_argument("--cost-bps", type=float, default=10.0)
    ap.add_argument("--horizons", default="1,5,21,63")
    ap.add_argument("--out", required=True)
    ap.add_argument("--timing", action="store_true")
    args = ap.parse_args()
    timing = {}
    clock = [time.perf_counter()]

    def mark(name):
        now = time.perf_counter()
        timing[name] = now - clock[0]
        clock[0] = now

    horizons = [int(h) for h in args.horizons.split(",")]
    fee = args.cost_bps / 10000
    screens = load_screens(args.screens)

    bars = pd.read_csv(args.bars, dtype={"symbol": str}, keep_default_na=False, na_values=[""])
    bars["date"] = pd.to_datetime(bars["date"])
    if args.end:
        bars = bars[bars["date"] <= pd.Timestamp(args.end)]
    for c in BAR_METRICS:
        bars[c] = pd.to_numeric(bars[c], errors="coerce").astype(float)
        bars.loc[~np.isfinite(bars[c]), c] = np.nan
    n_symbols = int(bars["symbol"].nunique())
    sessions = pd.DatetimeIndex(sorted(bars["date"].unique()))
    t0 = int(sessions.searchsorted(pd.Timestamp(args.start)))
    if t0 >= len(sessions):
        sys.exit("no session in range")
    window = sessions[t0:]
    last_row = len(window) - 1
    rebalance_rows = list(range(0, last_row + 1, args.every))
    fills = [r + 1 for r in rebalance_rows if r + 1 <= last_row]

    in_window = bars[bars["date"] >= window[0]]
    closes = valid_price(in_window.pivot(index="date", columns="symbol", values="close")).reindex(window)
    opens = valid_price(in_window.pivot(index="date", columns="symbol", values="open")).reindex(window)
    columns = sorted(closes.columns)
    closes, opens = closes[columns], opens[columns]
    ffilled = closes.ffill()
    # S5 step 1: the open, or the last close before the fill day.
    val_price = opens.where(opens.notna(), ffilled.shift(1))
    mark("read")

    signals = pd.read_csv(args.signals, dtype={"symbol": str})
    signals["date"] = pd.to_datetime(signals["date"])
    rebalance_dates = [window[r] for r in rebalance_rows]
    day_bars = in_window[in_window["date"].isin(rebalance_dates)]
    day_bars = day_bars[np.isfinite(day_bars["close"]) & (day_bars["close"] > 0)]
    rows = day_bars.merge(signals, on=["symbol", "date"], how="left", suffixes=("", "_signal"))
    by_date = {d: g for d, g in rows.groupby("date")}
    eligible = [sorted(by_date[d]["symbol"]) if d in by_date else [] for d in rebalance_dates]
    chosen = {
        s["name"]: [select(by_date[d], s) if d in by_date else [] for d in rebalance_dates] for s in screens
    }
    mark("signals")

    out = {"calendar": {
        "first_session": sessions[0].strftime("%Y-%m-%d"),
        "last_session": sessions[-1].strftime("%Y-%m-%d"),
        "t0": window[0].strftime("%Y-%m-%d"),
        "n_sessions": len(sessions),
        "n_returns": last_row,
        "n_rebalance_dates": len(rebalance_rows),
        "n_fills": len(fills),
        "rebalance_dates": [d.strftime("%Y-%m-%d") for d in rebalance_dates],
        "n_symbols": n_symbols,
        "n_symbols_in_range": len(columns),
    }, "screens": [], "benchmark": None}
    portfolios = [(s["name"], chosen[s["name"]]) for s in screens] + [("benchmark", eligible)]
    results = []
    for name, sets in portfolios:
        results.append(simulate(name, closes, opens, val_price, fills, sets[: len(fills)], fee, columns))
        results[-1]["selections"] = sets
    mark("simulation")

    eligible_forward = forward_returns(ffilled, rebalance_rows, eligible, horizons, last_row)
    for (name, sets), res in zip(portfolios, results):
        res["forward_returns"] = {
            "selected": forward_returns(ffilled, rebalance_rows, sets, horizons, last_row),
            "eligible": eligible_forward,
        }
    for s, res in zip(screens, results):
        key = rows[["date", "symbol", s["sort_metric"]]].dropna()
        sign = 1.0 if s["descending"] else -1.0
        factor = pd.Series(
            sign * key[s["sort_metric"]].to_numpy(),
            index=pd.MultiIndex.from_arrays([key["date"], key["symbol"]], names=["date", "asset"]),
        ).sort_index()
        try:
            res["factor"] = factor_analysis(factor, closes, horizons)
        except Exception as e:  # a factor alphalens cannot analyse (e.g. empty)
            res["factor"] = {"error": f"{type(e).__name__}: {e}"}
    mark("factor analysis")

    out["screens"] = results[:-1]
    out["benchmark"] = results[-1]
    if args.timing:
        out["timing"] = timing
    with open(args.out, "w") as f:
        json.dump(nan_to_none(out), f, allow_nan=False)


if __name__ == "__main__":
    main()
