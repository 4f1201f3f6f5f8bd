//! Downloads: `/app/files/results/<date>/<name>` (a file the run's manifest lists, or its
//! digest) and `/app/files/backtests/<id>/<name>` (a backtest's four files). The date, id and
//! name are parsed and then must be listed by the store: nothing else becomes a key.

use http::{Response, StatusCode, header};
use screener_core::digest::DIGEST_FILE;
use screener_core::workflow::keys;

use super::PageError;
use crate::data::BACKTEST_FILES;
use crate::{WebDeps, WebResponse, params};

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("csv") => "text/csv; charset=utf-8",
        Some("json") => "application/json",
        Some("html") => "text/html; charset=utf-8",
        Some("parquet") => "application/vnd.apache.parquet",
        _ => "application/octet-stream",
    }
}

pub async fn serve(path: &str, deps: &WebDeps) -> Result<WebResponse, PageError> {
    let not_found = || PageError::NotFound("No such file.".into());
    let parts: Vec<&str> = path.split('/').collect();
    let key = match parts[..] {
        ["results", date, name] => {
            let date = params::date(date).ok_or_else(not_found)?;
            let name = params::plain_name(name).ok_or_else(not_found)?;
            let manifest = deps.data.manifest(date).await.map_err(|_| not_found())?;
            if name != DIGEST_FILE && !manifest.files.iter().any(|f| f == name) {
                return Err(not_found());
            }
            keys::results_file(date, name)
        }
        ["backtests", id, name] => {
            let id = params::plain_name(id).ok_or_else(not_found)?;
            if !BACKTEST_FILES.contains(&name)
                || !deps.data.backtest_ids().await?.iter().any(|b| b == id)
            {
                return Err(not_found());
            }
            format!("backtests/{id}/{name}")
        }
        _ => return Err(not_found()),
    };
    let name = parts[2];
    let body = deps.data.store().get(&key).await.map_err(|_| not_found())?;
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, content_type(name))
        // Always a download: a stored report's own scripts never run under the dashboard's origin.
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        )
        .body(body)
        .expect("a download builds"))
}
