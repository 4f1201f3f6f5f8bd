//! The universe: which of Alpaca's assets are screened.

use screener_core::Symbol;
use screener_core::ports::Asset;

use crate::config::UniverseFilter;
use crate::model::AssetJson;

/// Why assets were left out, for the logs.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FilterCounts {
    pub received: usize,
    pub inactive_or_untradable: usize,
    pub not_us_equity: usize,
    pub exchange: usize,
    pub unparsable_symbol: usize,
    pub not_in_symbols_file: usize,
    pub excluded: usize,
}

/// Active, tradable US equities, OTC excluded unless asked for, then the exchange, symbol-file
/// and exclusion filters; sorted by symbol, each symbol once.
pub fn filter_assets(
    assets: Vec<AssetJson>,
    filter: &UniverseFilter,
) -> (Vec<Asset>, FilterCounts) {
    let mut counts = FilterCounts {
        received: assets.len(),
        ..FilterCounts::default()
    };
    let mut kept: Vec<Asset> = Vec::new();
    for asset in assets {
        if asset.status != "active" || !asset.tradable {
            counts.inactive_or_untradable += 1;
            continue;
        }
        if !asset.class.is_empty() && asset.class != "us_equity" {
            counts.not_us_equity += 1;
            continue;
        }
        let exchange = asset.exchange.to_ascii_uppercase();
        let exchange_ok = match &filter.exchanges {
            Some(allowed) => allowed.contains(&exchange),
            None => exchange != "OTC" || filter.include_otc,
        };
        if !exchange_ok {
            counts.exchange += 1;
            continue;
        }
        let Ok(symbol) = Symbol::parse(&asset.symbol) else {
            counts.unparsable_symbol += 1;
            continue;
        };
        if filter
            .only
            .as_ref()
            .is_some_and(|only| !only.contains(&symbol))
        {
            counts.not_in_symbols_file += 1;
            continue;
        }
        if filter.exclude.contains(&symbol) {
            counts.excluded += 1;
            continue;
        }
        kept.push(Asset {
            symbol,
            name: asset.name,
            exchange,
            sector: None,
        });
    }
    kept.sort_by(|a, b| a.symbol.cmp(&b.symbol));
    kept.dedup_by(|a, b| a.symbol == b.symbol);
    (kept, counts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_symbols;

    fn asset(symbol: &str, exchange: &str, status: &str, tradable: bool) -> AssetJson {
        AssetJson {
            symbol: symbol.into(),
            name: format!("{symbol} Inc."),
            exchange: exchange.into(),
            class: "us_equity".into(),
            status: status.into(),
            tradable,
            fractionable: false,
            shortable: false,
            marginable: false,
            easy_to_borrow: false,
            attributes: vec![],
        }
    }

    fn assets() -> Vec<AssetJson> {
        vec![
            asset("MSFT", "NASDAQ", "active", true),
            asset("AAPL", "NASDAQ", "active", true),
            asset("IBM", "NYSE", "active", true),
            asset("SPY", "ARCA", "active", true),
            asset("OTCX", "OTC", "active", true),
            asset("GONE", "NYSE", "inactive", true),
            asset("HALT", "NYSE", "active", false),
            asset("BAD/WS", "NYSE", "active", true),
        ]
    }

    fn names(kept: &[Asset]) -> Vec<&str> {
        kept.iter().map(|a| a.symbol.as_str()).collect()
    }

    #[test]
    fn by_default_active_tradable_listed_equities_sorted() {
        let (kept, counts) = filter_assets(assets(), &UniverseFilter::default());
        assert_eq!(names(&kept), ["AAPL", "IBM", "MSFT", "SPY"]);
        assert_eq!(counts.exchange, 1);
        assert_eq!(counts.inactive_or_untradable, 2);
        assert_eq!(counts.unparsable_symbol, 1);
    }

    #[test]
    fn otc_on_request_and_exchange_symbol_file_and_exclusion_filters() {
        let filter = UniverseFilter {
            include_otc: true,
            ..UniverseFilter::default()
        };
        assert!(names(&filter_assets(assets(), &filter).0).contains(&"OTCX"));
        let filter = UniverseFilter {
            exchanges: Some(["NASDAQ".to_string(), "NYSE".to_string()].into()),
            ..UniverseFilter::default()
        };
        assert_eq!(
            names(&filter_assets(assets(), &filter).0),
            ["AAPL", "IBM", "MSFT"]
        );
        let filter = UniverseFilter {
            only: Some(parse_symbols("AAPL\nIBM\nOTCX\n").unwrap()),
            exclude: parse_symbols("IBM").unwrap(),
            ..UniverseFilter::default()
        };
        assert_eq!(names(&filter_assets(assets(), &filter).0), ["AAPL"]);
    }
}
