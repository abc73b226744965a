//! The readers' throughput (`cargo bench --bench consumers`): N conversation-v1
//! events (10-turn sessions) published to a pulsar-lite of its own, then read
//! by the `kpi` reader (PostgreSQL + Redis, the machine's) and the `billing`
//! reader from the start of the topic: events/s, and the p95 of one batch's
//! PostgreSQL commit and Redis pipeline (from the readers' own histograms,
//! as a bucket bound). The same run with `batch_size = 1` is the baseline the
//! batching is measured against (over the first tenth of the events: one
//! commit per event is slow). `ARC_BENCH_EVENTS` (default 20000) sets N.
//!
//! Not a criterion bench: one measurement is a whole pipeline run.

use arc_agent::config::Config;
use arc_agent::consumers::{self, ConsumerKind};
use arc_testkit::{http, synthetic_conversations, vars, PulsarLite, TestDb, CONVERSATION_TOPIC};
use pulsar::{producer, Pulsar, TokioExecutor};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// N made-up conversation-v1 events (10 turns a session), sent with our own
/// producer (batched: the Python sender would take longer than the read).
async fn publish(url: &str, n: usize) -> Duration {
    let client = Pulsar::builder(url, TokioExecutor).build().await.unwrap();
    let mut p = client
        .producer()
        .with_topic(CONVERSATION_TOPIC)
        .with_options(producer::ProducerOptions {
            batch_size: std::env::var("ARC_BENCH_PRODUCER_BATCH")
                .ok()
                .and_then(|v| v.parse().ok()),
            batch_timeout: Some(Duration::from_millis(5)),
            ..Default::default()
        })
        .build()
        .await
        .unwrap();
    let t = Instant::now();
    let mut receipts = Vec::with_capacity(n);
    for m in synthetic_conversations("bench", n.div_ceil(10), 10)
        .into_iter()
        .take(n)
    {
        let msg = producer::Message {
            payload: m.payload.into_bytes(),
            partition_key: Some(m.key),
            ..Default::default()
        };
        receipts.push(p.send_non_blocking(msg).await.unwrap());
    }
    for r in receipts {
        r.await.unwrap();
    }
    t.elapsed()
}

/// `histogram_quantile`-like: the upper bound of the bucket holding quantile `q`.
fn bucket_quantile(metrics: &str, name: &str, labels: &str, q: f64) -> Option<f64> {
    let mut buckets: Vec<(f64, f64)> = metrics
        .lines()
        .filter(|l| l.starts_with(&format!("{name}_bucket{{")) && l.contains(labels))
        .filter_map(|l| {
            let le = l.split("le=\"").nth(1)?.split('"').next()?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((le, l.rsplit(' ').next()?.parse().ok()?))
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total = buckets.last()?.1;
    buckets
        .iter()
        .find(|(_, count)| *count >= q * total)
        .map(|(le, _)| *le)
}

struct Run {
    kind: ConsumerKind,
    batch: usize,
    seconds: f64,
    pg_p95: Option<f64>,
    redis_p95: Option<f64>,
    batches: f64,
}

async fn read_all(url: &str, kind: ConsumerKind, batch: usize, n: usize) -> Run {
    let db = TestDb::create("arc_bench").await;
    let prefix = format!("bench{}", uuid::Uuid::new_v4().simple());
    let batch_s = batch.to_string();
    let cfg = Config::load_with(
        None,
        vars([
            ("ARC__PULSAR__URL", url),
            ("ARC__CONSUMERS__POSTGRES_URL", db.url.as_str()),
            ("ARC__CONSUMERS__METRICS_LISTEN", "127.0.0.1:0"),
            ("ARC__CONSUMERS__SUBSCRIPTION_PREFIX", prefix.as_str()),
            ("ARC__CONSUMERS__BATCH_SIZE", batch_s.as_str()),
            ("ARC__CONSUMERS__BATCH_TIMEOUT_MS", "50"),
        ]),
    )
    .unwrap();
    let stop = CancellationToken::new();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let s = stop.clone();
    let t0 = Instant::now();
    let task = tokio::spawn(async move { consumers::run(&cfg, kind, s, Some(tx)).await });
    let addr = rx.await.unwrap();
    let scrape = move || http("GET", &format!("http://{addr}/metrics"), None).1;
    let processed = |m: &str| -> f64 {
        m.lines()
            .filter(|l| l.starts_with("arc_consumer_processed_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    let metrics = loop {
        let m = tokio::task::spawn_blocking(scrape).await.unwrap();
        if processed(&m) >= n as f64 {
            break m;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(300),
            "the reader stopped at {} of {n} events (BENCHMARKS.md: the pulsar-lite stall)",
            processed(&m)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let seconds = t0.elapsed().as_secs_f64();
    stop.cancel();
    let _ = task.await;
    db.drop_it().await;
    let count = |store: &str| -> f64 {
        metrics
            .lines()
            .find(|l| {
                l.starts_with("arc_consumer_write_seconds_count{")
                    && l.contains(&format!("store=\"{store}\""))
            })
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or(0.0)
    };
    Run {
        kind,
        batch,
        seconds,
        pg_p95: bucket_quantile(
            &metrics,
            "arc_consumer_write_seconds",
            "store=\"postgres\"",
            0.95,
        ),
        redis_p95: bucket_quantile(
            &metrics,
            "arc_consumer_write_seconds",
            "store=\"redis\"",
            0.95,
        ),
        batches: count("postgres"),
    }
}

fn ms(v: Option<f64>) -> String {
    v.map(|s| format!("≤ {:.1} ms", s * 1000.0))
        .unwrap_or_else(|| "-".into())
}

fn main() {
    // `cargo bench` passes --bench; nothing else is read from the command line.
    let n: usize = std::env::var("ARC_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let broker = PulsarLite::start_provisioned(dir.path());
        let published = publish(&broker.url(), n).await;
        println!(
            "published {n} conversation-v1 events in {:.2} s ({:.0}/s)",
            published.as_secs_f64(),
            n as f64 / published.as_secs_f64()
        );
        println!("| reader | batch_size | events/s | batches | PostgreSQL commit p95 | Redis pipeline p95 |");
        println!("|---|---|---|---|---|---|");
        for (kind, batch, events) in [
            (ConsumerKind::Kpi, 100, n),
            (ConsumerKind::Kpi, 1, n / 10),
            (ConsumerKind::Billing, 100, n),
            (ConsumerKind::Billing, 1, n / 10),
        ] {
            let r = read_all(&broker.url(), kind, batch, events).await;
            println!(
                "| {} | {} | {:.0} | {:.0} | {} | {} |",
                r.kind.as_str(),
                r.batch,
                events as f64 / r.seconds,
                r.batches,
                ms(r.pg_p95),
                ms(r.redis_p95)
            );
        }
    });
}
