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

/// A receipt for a message the broker did not store because its producer
/// already sent a higher sequence id (deduplication): message id -1:-1.
pub(super) fn is_duplicate(receipt: &pulsar::message::proto::CommandSendReceipt) -> bool {
    receipt
        .message_id
        .as_ref()
        .is_some_and(|m| m.ledger_id == u64::MAX && m.entry_id == u64::MAX)
}

/// The rejection of record `seq` dropped as a duplicate after its first refusal.
pub(super) fn duplicate_of_later(seq: u64) -> pulsar::Error {
    pulsar::Error::Producer(pulsar::error::ProducerError::Custom(format!(
        "record {seq}, refused before, was dropped by the broker as a duplicate (later records of this producer reached the topic first)"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pulsar::message::proto::{CommandSendReceipt, MessageIdData};

    #[test]
    fn a_deduplicated_receipt_is_told_apart_and_is_a_rejection() {
        let receipt = |ledger_id, entry_id| CommandSendReceipt {
            message_id: Some(MessageIdData {
                ledger_id,
                entry_id,
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(is_duplicate(&receipt(u64::MAX, u64::MAX)));
        assert!(!is_duplicate(&receipt(12, 3)));
        assert!(is_rejection(&duplicate_of_later(7)));
    }
}
