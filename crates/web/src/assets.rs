//! The files served from `/app/static/`: our script and stylesheet, and TradingView's
//! Lightweight Charts (Apache-2.0; `assets/lightweight-charts.NOTICE` says where it came from)
//! with its licence. Compiled into the binary: no CDN, no file system at run time.

use http::{Response, StatusCode, header};
use screener_core::html::STYLE;

use crate::WebResponse;

/// The chart library, vendored unmodified from its npm package.
pub const LIGHTWEIGHT_CHARTS: &str =
    include_str!("../assets/lightweight-charts.standalone.production.js");
const LIGHTWEIGHT_CHARTS_LICENSE: &str = include_str!("../assets/lightweight-charts.LICENSE");
const LIGHTWEIGHT_CHARTS_NOTICE: &str = include_str!("../assets/lightweight-charts.NOTICE");
/// Draws the charts from the data attributes the pages carry, and submits the sign-in form.
const DASHBOARD_JS: &str = include_str!("../assets/dashboard.js");
const DASHBOARD_CSS: &str = include_str!("../assets/dashboard.css");

/// The stylesheet: the reports' shared style, then the dashboard's own rules.
fn stylesheet() -> String {
    format!("{STYLE}\n{DASHBOARD_CSS}")
}

pub fn serve(name: &str) -> WebResponse {
    let (content_type, body): (&str, Vec<u8>) = match name {
        "lightweight-charts.js" => ("text/javascript; charset=utf-8", LIGHTWEIGHT_CHARTS.into()),
        "lightweight-charts.LICENSE.txt" => (
            "text/plain; charset=utf-8",
            LIGHTWEIGHT_CHARTS_LICENSE.into(),
        ),
        "lightweight-charts.NOTICE.txt" => (
            "text/plain; charset=utf-8",
            LIGHTWEIGHT_CHARTS_NOTICE.into(),
        ),
        "dashboard.js" => ("text/javascript; charset=utf-8", DASHBOARD_JS.into()),
        "dashboard.css" => ("text/css; charset=utf-8", stylesheet().into_bytes()),
        _ => {
            return crate::pages::message(StatusCode::NOT_FOUND, "Not found", "No such file.");
        }
    };
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CACHE_CONTROL, "public, max-age=3600")
        .body(body)
        .expect("a static response builds")
}
