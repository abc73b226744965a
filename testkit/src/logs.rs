//! Logs of an in-process node to the test's output.

/// Logs of the in-process node to the test output (RUST_LOG to tune).
pub fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new(
                    "info,pulsar::connection=off,pulsar::connection_manager=off",
                )
            }),
        )
        .with_test_writer()
        .try_init();
}
