//! The OpenAPI document: committed copy in sync with the code, and served.

use crate::helpers::*;

#[test]
fn committed_document_matches_the_generated_one() {
    let generated = std::process::Command::new(binary()).arg("openapi").output().expect("ctid openapi");
    assert!(generated.status.success());
    let generated = String::from_utf8(generated.stdout).expect("utf-8");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
    if std::env::var_os("CTID_UPDATE_OPENAPI").is_some() {
        std::fs::write(path, &generated).expect("write openapi.json");
    }
    let committed = std::fs::read_to_string(path).expect("openapi.json is committed");
    assert!(
        committed == generated,
        "openapi.json is out of date: run `CTID_UPDATE_OPENAPI=1 cargo test --test api openapi` and commit it"
    );
}

#[tokio::test]
async fn the_server_serves_the_document() {
    let app = TestApp::spawn().await;
    let reply = send(app.client.get(app.url("/openapi.json"))).await;
    assert_eq!(reply.status.as_u16(), 200);
    let doc = reply.json();
    assert_eq!(doc["info"]["title"], "ctid");
    assert!(doc["paths"]["/1.1/users/{user_id}/cti_profile"]["post"].is_object());
    assert!(doc["components"]["securitySchemes"]["digest"].is_object());
}
