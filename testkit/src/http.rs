//! A minimal HTTP/1.1 client over a TcpStream (keeps the test deps small),
//! and reading a value out of a Prometheus scrape.

use std::io::{Read, Write};
use std::time::Duration;

/// `method url` with a JSON body: (status, body); (0, "") when nothing listens.
pub fn http(method: &str, url: &str, body: Option<&str>) -> (u16, String) {
    http_with(
        method,
        url,
        &[("Content-Type", "application/json")],
        body.unwrap_or(""),
    )
}

/// [`http`] with headers of the caller's; (0, "") when nothing listens.
pub fn http_with(method: &str, url: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    let rest = url.strip_prefix("http://").expect("http url");
    let (host, path) = rest
        .split_once('/')
        .map(|(h, p)| (h, format!("/{p}")))
        .unwrap_or((rest, "/".into()));
    let Ok(mut s) = std::net::TcpStream::connect(host) else {
        return (0, String::new());
    };
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let headers: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    let _ = write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    split_response(&resp)
}

/// (status, body) of a raw HTTP response.
pub(crate) fn split_response(resp: &str) -> (u16, String) {
    let status = resp
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = resp
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// The value of a metric line (first sample whose name and labels start with `prefix`).
pub fn metric(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}
