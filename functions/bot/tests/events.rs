//! The sample events in `events/` are real inputs: the bare update and the API Gateway HTTP
//! API event wrapping it go through the same handler the Lambda runs.

mod common;

use bot::apigw;
use common::*;

fn event(name: &str) -> String {
    let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn the_sample_update_is_a_command_message() {
    let update: screener_telegram::api::Update =
        serde_json::from_str(&event("telegram-update.json")).unwrap();
    let message = update.message.unwrap();
    let command = bot::commands::Command::parse(message.text.as_deref().unwrap(), None).unwrap();
    assert_eq!(command.name, "screen");
}

#[test]
fn lambda_http_reads_the_api_gateway_event_with_its_secret_header_and_body() {
    let text = event("bot-apigw.json");
    let request = lambda_http::request::from_str(&text).unwrap();
    assert_eq!(
        request.headers()[bot::SECRET_HEADER].to_str().unwrap(),
        "local-dev-secret"
    );
    let update: serde_json::Value = serde_json::from_slice(request.body()).unwrap();
    let bare: serde_json::Value = serde_json::from_str(&event("telegram-update.json")).unwrap();
    assert_eq!(
        update, bare,
        "the API Gateway event wraps events/telegram-update.json"
    );
}

#[tokio::test]
async fn the_api_gateway_event_is_answered_with_a_proxy_response() {
    let world = World::new(Options {
        allow_list: Some("123456789".into()),
        ..Options::default()
    })
    .await;
    world
        .secrets
        .set(&world.deps.settings.params.secret_token, "local-dev-secret");
    let value: serde_json::Value = serde_json::from_str(&event("bot-apigw.json")).unwrap();
    let request = apigw::request_from_event(&value).unwrap();
    let response = bot::handle(request, &world.deps).await;
    let proxy = apigw::response_to_event(&response);
    assert_eq!(proxy["statusCode"], 200);
    let reply: serde_json::Value = serde_json::from_str(proxy["body"].as_str().unwrap()).unwrap();
    assert_eq!(reply["method"], "sendMessage");
    assert_eq!(reply["chat_id"], 123456789);
    assert!(
        reply["text"]
            .as_str()
            .unwrap()
            .contains("<b>deepest_drawdown</b>")
    );
}

#[tokio::test]
async fn a_dashboard_link_points_back_at_the_api_the_webhook_came_through() {
    let world = World::new(Options {
        allow_list: Some("123456789".into()),
        ..Options::default()
    })
    .await;
    let params = world.deps.settings.params.clone();
    world.secrets.set(&params.secret_token, "local-dev-secret");
    world
        .secrets
        .set(&params.dashboard_key, "dashboard-test-key");
    let mut value: serde_json::Value = serde_json::from_str(&event("bot-apigw.json")).unwrap();
    let mut update: serde_json::Value =
        serde_json::from_str(value["body"].as_str().unwrap()).unwrap();
    update["message"]["text"] = "/dashboard".into();
    value["body"] = update.to_string().into();

    // lambda_http (the Lambda) and the plain event reader (`screener invoke bot`) agree.
    let origin = "https://abcdef1234.execute-api.us-east-1.amazonaws.com";
    let lambda_request = lambda_http::request::from_str(&value.to_string()).unwrap();
    assert_eq!(
        bot::lambda_request_origin(&lambda_request).as_deref(),
        Some(origin)
    );
    let request = apigw::request_from_event(&value).unwrap();
    assert_eq!(request.origin.as_deref(), Some(origin));

    // No dashboard address configured: the link uses the API's own.
    let response = bot::handle(request.clone(), &world.deps).await;
    let reply: serde_json::Value = serde_json::from_str(&response.body).unwrap();
    let text = reply["text"].as_str().unwrap();
    assert!(
        text.contains(&format!("href=\"{origin}/app/signin?token=v1.")),
        "{text}"
    );
    // A configured address (a custom domain) wins.
    world
        .secrets
        .set(&params.dashboard_url, "https://screener.example.com");
    update["update_id"] = (update["update_id"].as_i64().unwrap() + 1).into();
    value["body"] = update.to_string().into();
    let response = bot::handle(apigw::request_from_event(&value).unwrap(), &world.deps).await;
    let reply: serde_json::Value = serde_json::from_str(&response.body).unwrap();
    let text = reply["text"].as_str().unwrap();
    assert!(
        text.contains("href=\"https://screener.example.com/app/signin?token=v1."),
        "{text}"
    );
}

#[test]
fn an_api_origin_is_https_and_the_domain_and_a_named_stage() {
    let domain = Some("abc.execute-api.eu-west-1.amazonaws.com");
    assert_eq!(
        bot::public_origin(domain, Some("$default")).as_deref(),
        Some("https://abc.execute-api.eu-west-1.amazonaws.com")
    );
    assert_eq!(
        bot::public_origin(domain, Some("prod")).as_deref(),
        Some("https://abc.execute-api.eu-west-1.amazonaws.com/prod")
    );
    assert_eq!(bot::public_origin(None, None), None);
    assert_eq!(bot::public_origin(Some("evil.com/x?"), None), None);
    assert_eq!(bot::public_origin(domain, Some("a/b")), None);
}
