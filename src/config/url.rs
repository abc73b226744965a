//! URLs as logs, errors and `arc-agent config` print them: without their
//! user info (a password or token in `scheme://user:secret@host` never shows).

/// The URL for logs: `nats://user:pass@host:4222` → `nats://host:4222`.
pub fn redacted_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
            format!("{scheme}://{host}")
        }
        None => url.rsplit_once('@').map_or(url, |(_, h)| h).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_user_info_in_logs() {
        assert_eq!(
            redacted_url("nats://arc:s3cret@nats:4222"),
            "nats://nats:4222"
        );
        assert_eq!(redacted_url("tls://tok@a:1,b:2"), "tls://a:1,b:2");
        assert_eq!(
            redacted_url("nats://127.0.0.1:4222"),
            "nats://127.0.0.1:4222"
        );
    }

    #[test]
    fn database_urls_too() {
        assert_eq!(
            redacted_url("postgres://arc:hunter2@pg:5432/arc"),
            "postgres://pg:5432/arc"
        );
        assert_eq!(
            redacted_url("redis://:pw@cache:6379/2"),
            "redis://cache:6379/2"
        );
    }
}
