//! `/1.1/users/{user_id}/cti_profile`: every example and error row of the seed.

use serde_json::json;

use crate::helpers::*;

async fn app_with_user() -> (TestApp, i64) {
    let app = TestApp::spawn().await;
    let id = app.create_user(json!({"firstname": "John", "lastname": "Doe"})).await;
    (app, id)
}

fn association(app: &TestApp, user: i64, profile: i64) -> serde_json::Value {
    let base = app.base();
    json!({
        "user_id": user,
        "cti_profile_id": profile,
        "links": [
            {"rel": "users", "href": format!("{base}/1.1/users/{user}")},
            {"rel": "cti_profiles", "href": format!("{base}/1.1/cti_profiles/{profile}")}
        ]
    })
}

#[tokio::test]
async fn post_associates_and_answers_201_with_location_and_links() {
    let (app, user) = app_with_user().await;
    let reply = app.post(&format!("/1.1/users/{user}/cti_profile"), r#"{"cti_profile_id": 3}"#).await;
    assert_eq!(reply.status.as_u16(), 201);
    assert_eq!(reply.header("location"), Some(format!("/1.1/users/{user}/cti_profile").as_str()));
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.json(), association(&app, user, 3));
}

#[tokio::test]
async fn get_returns_the_association() {
    let (app, user) = app_with_user().await;
    app.post(&format!("/1.1/users/{user}/cti_profile"), r#"{"cti_profile_id": 2}"#).await;
    let reply = app.get(&format!("/1.1/users/{user}/cti_profile")).await;
    assert_eq!(reply.status.as_u16(), 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.json(), association(&app, user, 2));
}

#[tokio::test]
async fn links_follow_the_host_header() {
    let (app, user) = app_with_user().await;
    app.post(&format!("/1.1/users/{user}/cti_profile"), r#"{"cti_profile_id": 2}"#).await;
    let reply = send(
        app.client
            .get(app.url(&format!("/1.1/users/{user}/cti_profile")))
            .basic_auth("admin", Some(ADMIN_PASSWORD))
            .header("Host", "xivoserver")
            .header("Accept", "application/json"),
    )
    .await;
    assert_eq!(reply.json()["links"][0]["href"], json!(format!("http://xivoserver/1.1/users/{user}")));
    assert_eq!(reply.json()["links"][1]["href"], json!("http://xivoserver/1.1/cti_profiles/2"));
}

#[tokio::test]
async fn forwarded_headers_are_ignored_from_untrusted_peers_and_used_from_trusted_ones() {
    for (args, expected) in [(vec![], "http://xivoserver"), (vec!["--trusted-proxy", "127.0.0.1"], "https://public")] {
        let app = TestApp::spawn_with(&args, &[]).await;
        let user = app.create_user(json!({"firstname": "A"})).await;
        let reply = send(
            app.client
                .get(app.url(&format!("/1.1/users/{user}")))
                .basic_auth("admin", Some(ADMIN_PASSWORD))
                .header("Host", "xivoserver")
                .header("X-Forwarded-Proto", "https")
                .header("X-Forwarded-Host", "public"),
        )
        .await;
        assert_eq!(reply.json()["links"][0]["href"], json!(format!("{expected}/1.1/users/{user}")));
    }
}

#[tokio::test]
async fn put_changes_the_profile_and_answers_200_with_location() {
    let (app, user) = app_with_user().await;
    app.post(&format!("/1.1/users/{user}/cti_profile"), r#"{"cti_profile_id": 2}"#).await;
    let reply = app.put(&format!("/1.1/users/{user}/cti_profile"), r#"{"cti_profile_id": 3}"#).await;
    assert_eq!(reply.status.as_u16(), 200);
    assert_eq!(reply.header("location"), Some(format!("/1.1/users/{user}/cti_profile").as_str()));
    assert_eq!(reply.json(), association(&app, user, 3));
    assert_eq!(app.get(&format!("/1.1/users/{user}/cti_profile")).await.json(), association(&app, user, 3));
}

#[tokio::test]
async fn delete_dissociates_with_204_and_empty_body() {
    let (app, user) = app_with_user().await;
    app.post(&format!("/1.1/users/{user}/cti_profile"), r#"{"cti_profile_id": 2}"#).await;
    let reply = app.delete(&format!("/1.1/users/{user}/cti_profile")).await;
    assert_eq!(reply.status.as_u16(), 204);
    assert_eq!(reply.body, "");
    app.get(&format!("/1.1/users/{user}/cti_profile"))
        .await
        .assert_error(404, &[&format!("User with id={user} does not have a CTI profile")]);
}

#[tokio::test]
async fn get_errors() {
    let (app, user) = app_with_user().await;
    app.get("/1.1/users/999/cti_profile").await.assert_error(404, &["User with id=999 does not exist"]);
    app.get(&format!("/1.1/users/{user}/cti_profile"))
        .await
        .assert_error(404, &[&format!("User with id={user} does not have a CTI profile")]);
    app.get("/1.1/users/abc/cti_profile").await.assert_error(404, &["User with id=abc does not exist"]);
}

#[tokio::test]
async fn post_errors() {
    let (app, user) = app_with_user().await;
    let path = format!("/1.1/users/{user}/cti_profile");
    app.post("/1.1/users/999/cti_profile", r#"{"cti_profile_id": 3}"#)
        .await
        .assert_error(404, &["User with id=999 does not exist"]);
    app.post(&path, r#"{"cti_profile_id": 42}"#)
        .await
        .assert_error(400, &["Nonexistent parameters: cti_profile_id 42 does not exist"]);
    app.post(&path, r#"{"cti_profile_id": 3}"#).await;
    app.post(&path, r#"{"cti_profile_id": 2}"#)
        .await
        .assert_error(400, &[&format!("Invalid parameters: user with id {user} already has a CTI profile")]);
}

#[tokio::test]
async fn delete_errors() {
    let (app, user) = app_with_user().await;
    app.delete("/1.1/users/999/cti_profile").await.assert_error(404, &["User with id=999 does not exist"]);
    app.delete(&format!("/1.1/users/{user}/cti_profile"))
        .await
        .assert_error(404, &[&format!("User with id={user} does not have a CTI profile")]);
}

#[tokio::test]
async fn put_errors() {
    let (app, user) = app_with_user().await;
    let path = format!("/1.1/users/{user}/cti_profile");
    app.put("/1.1/users/999/cti_profile", r#"{"cti_profile_id": 3}"#)
        .await
        .assert_error(404, &["User with id=999 does not exist"]);
    app.put(&path, r#"{"cti_profile_id": 3}"#)
        .await
        .assert_error(404, &[&format!("User with id={user} does not have a CTI profile")]);
    app.post(&path, r#"{"cti_profile_id": 2}"#).await;
    app.put(&path, r#"{"cti_profile_id": 42}"#)
        .await
        .assert_error(400, &["Nonexistent parameters: cti_profile_id 42 does not exist"]);
    assert_eq!(app.get(&path).await.json()["cti_profile_id"], json!(2), "a refused PUT changes nothing");
}

#[tokio::test]
async fn checks_run_in_the_specified_order() {
    let (app, user) = app_with_user().await;
    let path = format!("/1.1/users/{user}/cti_profile");
    // Body before user existence.
    app.post("/1.1/users/999/cti_profile", "{}").await.assert_error(400, &["Missing parameters: cti_profile_id"]);
    // User existence before profile existence.
    app.put("/1.1/users/999/cti_profile", r#"{"cti_profile_id": 42}"#)
        .await
        .assert_error(404, &["User with id=999 does not exist"]);
    // For PUT, "has a profile" before "profile exists".
    app.put(&path, r#"{"cti_profile_id": 42}"#)
        .await
        .assert_error(404, &[&format!("User with id={user} does not have a CTI profile")]);
    // For POST, "profile exists" before "already associated".
    app.post(&path, r#"{"cti_profile_id": 1}"#).await;
    app.post(&path, r#"{"cti_profile_id": 42}"#)
        .await
        .assert_error(400, &["Nonexistent parameters: cti_profile_id 42 does not exist"]);
}

#[tokio::test]
async fn body_errors() {
    let (app, user) = app_with_user().await;
    let path = format!("/1.1/users/{user}/cti_profile");
    let no_data = "No parsable data in the request, Be sure to send a valid JSON file";
    app.post(&path, "").await.assert_error(400, &[no_data]);
    app.post(&path, "cti_profile_id=3").await.assert_error(400, &[no_data]);
    app.post(&path, r#"{"cti_profile_id": null}"#).await.assert_error(400, &["Missing parameters: cti_profile_id"]);
    app.post(&path, r#"{"cti_profile_id": "3"}"#)
        .await
        .assert_error(400, &["Invalid parameters: cti_profile_id must be an integer"]);
    app.post(&path, r#"{"cti_profile_id": 3, "colour": "red"}"#)
        .await
        .assert_error(400, &["Invalid parameters: colour"]);
    app.post(&path, r#"{"colour": "red"}"#).await.assert_error(400, &["Invalid parameters: colour"]);
    app.post(&path, "[3]").await.assert_error(400, &["Invalid parameters: the request body must be a JSON object"]);
    app.get(&path).await.assert_error(404, &[&format!("User with id={user} does not have a CTI profile")]);
}

#[tokio::test]
async fn body_is_json_whatever_the_content_type_and_read_only_members_are_ignored() {
    let (app, user) = app_with_user().await;
    let reply = send(
        app.client
            .post(app.url(&format!("/1.1/users/{user}/cti_profile")))
            .basic_auth("admin", Some(ADMIN_PASSWORD))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(r#"{"cti_profile_id": 4, "user_id": 77, "links": []}"#),
    )
    .await;
    assert_eq!(reply.status.as_u16(), 201, "{}", reply.body);
    assert_eq!(reply.json(), association(&app, user, 4));
}

#[tokio::test]
async fn deleting_a_user_removes_its_association() {
    let (app, user) = app_with_user().await;
    app.post(&format!("/1.1/users/{user}/cti_profile"), r#"{"cti_profile_id": 2}"#).await;
    assert_eq!(app.delete(&format!("/1.1/users/{user}")).await.status.as_u16(), 204);
    app.get(&format!("/1.1/users/{user}/cti_profile"))
        .await
        .assert_error(404, &[&format!("User with id={user} does not exist")]);
    assert_eq!(app.delete("/1.1/cti_profiles/2").await.status.as_u16(), 204, "profile no longer in use");
}
