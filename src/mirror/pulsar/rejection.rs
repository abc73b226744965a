//! Telling the broker refusing one message (retried, then dead-lettered)
//! from a lost connection (reconnect and resend), and the broker's own words
//! for a refusal.

/// Is this error the broker refusing this message (as opposed to a lost connection)?
pub(super) fn is_rejection(e: &pulsar::Error) -> bool {
    use pulsar::error::{ConnectionError, ProducerError};
    fn conn(c: &ConnectionError) -> bool {
        use pulsar::message::proto::ServerError;
        match c {
            ConnectionError::PulsarError(Some(code), _) => !matches!(
                code,
                ServerError::ServiceNotReady
                    | ServerError::TooManyRequests
                    | ServerError::ProducerBusy
                    | ServerError::ProducerBlockedQuotaExceededException
                    | ServerError::ProducerBlockedQuotaExceededError
                    | ServerError::MetadataError
                    | ServerError::UnknownError
            ),
            ConnectionError::PulsarError(None, _) => true,
            ConnectionError::Encoding(_) => true,
            // The client reports the broker's CommandSendError for one message this way.
            ConnectionError::UnexpectedResponse(r) => r.contains("SendError"),
            _ => false,
        }
    }
    match e {
        pulsar::Error::Producer(ProducerError::Custom(_)) => true,
        pulsar::Error::Producer(ProducerError::Connection(c)) => conn(c),
        pulsar::Error::Producer(ProducerError::Batch(inner)) => is_rejection(inner),
        pulsar::Error::Connection(c) => conn(c),
        _ => false,
    }
}

/// The broker's own words for a rejection, when the client buried them in a debug dump.
pub(super) fn rejection_reason(e: &pulsar::Error) -> String {
    let text = e.to_string();
    if let Some(i) = text.find("send_error: Some(") {
        let detail = &text[i + "send_error: Some(".len()..];
        let error = detail
            .find("error: ")
            .map(|j| detail[j + 7..].split([',', ' ']).next().unwrap_or(""))
            .unwrap_or("");
        let message = detail
            .find("message: \"")
            .and_then(|j| detail[j + 10..].split('"').next())
            .unwrap_or("");
        return format!("broker refused the message: {message} (server error {error})");
    }
    text
}
