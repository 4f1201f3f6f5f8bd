//! `screener dashboard`: the dashboard ([`screener_web::handle`], the very handler the `web`
//! Lambda runs) over a store, on this machine, behind a hyper HTTP/1.1 server. It signs its
//! sessions with a key made for this process and prints a single-use sign-in link (like
//! Jupyter's token URL); only that link's owner, chat id [`screener_web::LOCAL_OWNER`], may
//! sign in.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use chrono::Utc;
use clap::Args;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use screener_web::auth::SigningKey;
use screener_web::{Audience, LOCAL_OWNER, WebDeps};
use tokio::net::TcpListener;

use crate::config_with;

/// A sign-in form is a few hundred bytes; nothing else is posted.
const MAX_BODY_BYTES: usize = 64 * 1024;

#[derive(Args)]
pub struct DashboardArgs {
    /// The store to show: the directory `screener run` and `screener backtest` wrote [env SCREENER_STORE, default ./screener-data]
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Store location, a directory or s3://BUCKET/PREFIX (overrides --data-dir) [env SCREENER_STORE]
    #[arg(long, value_name = "LOCATION")]
    pub store: Option<String>,
    /// Address to listen on (port 0: any free port)
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
}

pub async fn run(args: DashboardArgs) -> anyhow::Result<ExitCode> {
    let store = args
        .store
        .clone()
        .or_else(|| args.data_dir.as_ref().map(|d| d.display().to_string()));
    let config = config_with(&[("SCREENER_STORE", store)])?;
    let deps = screener_composition::build_deps(&config)
        .await
        .context("building the store")?;
    let location = deps.store.locate("");
    let web = Arc::new(WebDeps::new(
        deps.store,
        deps.secrets,
        SigningKey::random(),
        Audience::Only(LOCAL_OWNER),
        "Stop and start `screener dashboard` for a new sign-in link.",
    ));
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let address = listener.local_addr()?;
    println!("screener dashboard: serving {location}");
    println!(
        "Sign in (the link works once, for 10 minutes):\n  http://{address}{}",
        web.signin_path(LOCAL_OWNER, Utc::now())
    );
    serve(listener, web).await.context("serving")?;
    Ok(ExitCode::SUCCESS)
}

async fn answer(
    request: Request<Incoming>,
    deps: Arc<WebDeps>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes().to_vec(),
        Err(_) => {
            let mut response = Response::new(Full::new(Bytes::from_static(b"request too large\n")));
            *response.status_mut() = hyper::StatusCode::PAYLOAD_TOO_LARGE;
            return Ok(response);
        }
    };
    let response = screener_web::handle(Request::from_parts(parts, body), &deps).await;
    Ok(response.map(|body| Full::new(Bytes::from(body))))
}

/// Serves the dashboard on `listener` until the task is dropped or the listener fails.
pub async fn serve(listener: TcpListener, deps: Arc<WebDeps>) -> std::io::Result<()> {
    screener_composition::serve_http(listener, move |request| answer(request, deps.clone())).await
}
