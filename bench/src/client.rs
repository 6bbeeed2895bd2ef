//! One-shot HTTP requests and ICWS logins for setting up scenarios.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// A reply: status, headers, body.
pub struct Reply {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

pub fn request(
    addr: &str,
    method: Method,
    path: &str,
    headers: &[(&str, String)],
    body: String,
) -> Request<Full<Bytes>> {
    let mut builder = Request::builder().method(method).uri(path).header("host", addr);
    for (name, value) in headers {
        builder = builder.header(*name, value);
    }
    builder.body(Full::new(Bytes::from(body))).expect("valid request")
}

pub async fn send(addr: &str, request: Request<Full<Bytes>>) -> Result<Reply, String> {
    let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let (mut sender, driver) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
    tokio::spawn(driver);
    let response = sender.send_request(request).await.map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok(Reply { status, headers, body })
}

/// An open presence session.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub token: String,
    pub cookie: String,
}

impl Session {
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        vec![("ININ-ICWS-CSRF-Token", self.token.clone()), ("Cookie", self.cookie.clone())]
    }
}

pub async fn login(addr: &str, user: &str, password: &str) -> Result<Session, String> {
    let body = serde_json::json!({"userID": user, "password": password}).to_string();
    let reply = send(addr, request(addr, Method::POST, "/icws/connection", &[], body)).await?;
    if reply.status != 201 {
        return Err(format!("login {user}: {} {}", reply.status, String::from_utf8_lossy(&reply.body)));
    }
    let header = |name: &str| reply.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    Ok(Session {
        id: header("ININ-ICWS-Session-ID"),
        token: header("ININ-ICWS-CSRF-Token"),
        cookie: header("set-cookie").split(';').next().unwrap_or_default().to_string(),
    })
}
