//! The Grafana dashboard works: every PromQL query of every panel in
//! `config/grafana/dashboards/arc.json` is run against a real Prometheus
//! (Debian's `prometheus`, configured from the shipped `config/prometheus.yml`
//! and `alerts.yml`) that scraped a running node through scripted sessions, a
//! stalled LLM, a crashed actor and a broker outage, and a reader
//! (`arc-agent consume kpi`, on a database of its own) that writes the node's
//! turns and dead-letters a poison message, and each query returns data. No Grafana server exists in any registry these machines reach, so the
//! panels are rendered the way Grafana lays them out (the dashboard's own
//! `gridPos`, titles, legends and the queries' range results, as SVG) into an
//! HTML page that headless Chromium screenshots to
//! `target/dashboard/dashboard.png`.

use arc_testkit::prometheus::{self, PrometheusServer};
use arc_testkit::*;
use serde_json::Value;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shipped scrape config, pointed at the node under test and scraping
/// every second so that the dashboard's `[1m]` windows fill within the test.
fn scrape_config(node_port: u16, reader_port: u16, dir: &Path) -> String {
    let shipped = std::fs::read_to_string(repo().join("config/prometheus.yml")).expect("config");
    std::fs::copy(repo().join("config/alerts.yml"), dir.join("alerts.yml")).expect("alerts");
    let cfg = shipped
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{node_port}"))
        .replace("127.0.0.1:9464", &format!("127.0.0.1:{reader_port}"))
        .replace("scrape_interval: 5s", "scrape_interval: 1s")
        .replace("scrape_interval: 15s", "scrape_interval: 1s")
        .replace("scrape_timeout: 4s", "scrape_timeout: 900ms")
        .replace("evaluation_interval: 15s", "evaluation_interval: 1s");
    assert!(cfg.contains(&format!("127.0.0.1:{node_port}")), "target");
    assert!(cfg.contains(&format!("127.0.0.1:{reader_port}")), "reader");
    cfg
}

/// One query of a panel.
struct PanelQuery {
    expr: String,
    legend: String,
}

struct Panel {
    title: String,
    kind: String,
    grid: (u64, u64, u64, u64),
    unit: String,
    queries: Vec<PanelQuery>,
}

fn panels(dashboard: &Value) -> Vec<Panel> {
    let mut out = Vec::new();
    for p in dashboard["panels"].as_array().expect("panels") {
        let g = &p["gridPos"];
        let grid = (
            g["x"].as_u64().unwrap_or(0),
            g["y"].as_u64().unwrap_or(0),
            g["w"].as_u64().unwrap_or(24),
            g["h"].as_u64().unwrap_or(1),
        );
        let queries = p["targets"]
            .as_array()
            .map(|ts| {
                ts.iter()
                    .filter_map(|t| {
                        Some(PanelQuery {
                            expr: t["expr"].as_str()?.to_string(),
                            legend: t["legendFormat"].as_str().unwrap_or("").to_string(),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.push(Panel {
            title: p["title"].as_str().unwrap_or("").to_string(),
            kind: p["type"].as_str().unwrap_or("").to_string(),
            grid,
            unit: p["fieldConfig"]["defaults"]["unit"]
                .as_str()
                .unwrap_or("")
                .to_string(),
            queries,
        });
    }
    out
}

/// Grafana's template variables as the dashboard's "All" selection expands them.
fn expand(expr: &str, dashboard: &Value) -> String {
    let mut e = expr.to_string();
    for v in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let name = v["name"].as_str().unwrap_or("");
        let all = v["allValue"].as_str().unwrap_or(".*");
        e = e.replace(&format!("${{{name}}}"), all);
        e = e.replace(&format!("${name}"), all);
    }
    e.replace("$__rate_interval", "1m")
        .replace("$__interval", "5s")
        .replace("$__range", "5m")
}

fn now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// A series of a range query: its legend and its (time, value) points.
struct Series {
    legend: String,
    points: Vec<(f64, f64)>,
}

fn legend_of(format: &str, metric: &Value) -> String {
    let mut out = format.to_string();
    if let Some(labels) = metric.as_object() {
        for (k, v) in labels {
            out = out.replace(&format!("{{{{{k}}}}}"), v.as_str().unwrap_or(""));
        }
        if out.is_empty() {
            out = labels
                .iter()
                .filter(|(k, _)| *k != "__name__")
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(",");
        }
    }
    out
}

fn range(prom: &PrometheusServer, expr: &str, legend: &str, start: f64, end: f64) -> Vec<Series> {
    let path = format!(
        "/api/v1/query_range?query={}&start={start:.3}&end={end:.3}&step=1",
        prometheus::url_encode(expr)
    );
    let v = prom.api(&path);
    assert_eq!(v["status"], "success", "query_range {expr}: {v}");
    v["data"]["result"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| Series {
            legend: legend_of(legend, &s["metric"]),
            points: s["values"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| {
                    let t = p[0].as_f64()?;
                    let v: f64 = p[1].as_str()?.parse().ok()?;
                    v.is_finite().then_some((t, v))
                })
                .collect(),
        })
        .filter(|s| !s.points.is_empty())
        .collect()
}

/// Drives the node through what the panels show: turns, a stalled LLM
/// (fallback), crashed actors (restarts, lifecycle, service errors), and
/// Pulsar stopped then back (spool grows, then replays).
fn exercise(node: &TestNode, pulsar: &mut PulsarLite, rounds: usize) {
    for round in 0..rounds {
        let id = format!("dash-{round}");
        let body = format!(
            r#"{{"session_id":"{id}","user_id":"dash-user-{round}","script":["hello there","what [stall] is it","tell me a long story [slow]","thanks"]}}"#
        );
        let (code, resp) = node.post("/v1/sessions", Some(&body));
        assert_eq!(code, 201, "{resp}");
        if round % 2 == 1 {
            std::thread::sleep(Duration::from_millis(300));
            let (code, resp) = node.post(&format!("/v1/sessions/{id}/fault/brain"), None);
            assert!(code == 202 || code == 404, "{code} {resp}");
        }
        if round == 2 {
            pulsar.stop();
        }
        if round == 4 {
            pulsar.restart();
        }
        std::thread::sleep(Duration::from_millis(1500));
    }
}

#[test]
fn every_dashboard_query_returns_data_from_a_real_prometheus() {
    let dir = tempfile::tempdir().unwrap();
    let mut pulsar = PulsarLite::start_provisioned(dir.path());
    let node = TestNode::builder(env!("CARGO_BIN_EXE_arc-agent"))
        .under_test(dir.path(), &pulsar.url(), SHARED_NATS)
        .env("ARC__SESSION__BRAIN__TIMEOUT_MS", "300")
        .spawn();
    // A reader of the node's log, with a poison message to dead-letter.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(TestDb::create("arc_test"));
    let reader_port = free_port();
    let mut reader = Reader(
        std::process::Command::new(env!("CARGO_BIN_EXE_arc-agent"))
            .args(["consume", "kpi"])
            .env("ARC__PULSAR__URL", pulsar.url())
            .env("DATABASE_URL", &db.url)
            .env("REDIS_URL", "redis://127.0.0.1:6379")
            .env(
                "ARC__CONSUMERS__METRICS_LISTEN",
                format!("127.0.0.1:{reader_port}"),
            )
            .env("ARC__CONSUMERS__RETRY_BACKOFF_MS", "200")
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("arc-agent consume starts"),
    );
    send_pulsar(
        &pulsar.url(),
        &[SendMessage {
            topic: "persistent://arc/events/conversation".into(),
            key: "dash-poison".into(),
            properties: serde_json::json!({ "message_id": "msg-dash-poison" }),
            payload: "this is not JSON".into(),
        }],
    );
    let prom_dir = dir.path().join("prometheus");
    std::fs::create_dir_all(&prom_dir).unwrap();
    let prom = PrometheusServer::start(
        &prom_dir,
        free_port(),
        &scrape_config(node.http_port, reader_port, &prom_dir),
    );
    let start = now_s();

    // The target must be up before anything counts.
    let up = eventually(Duration::from_secs(20), || {
        let r = prom.query_vector("up{job=\"arc-agent\"} == 1");
        (!r.is_empty()).then_some(())
    });
    assert!(up.is_some(), "node never scraped: {}", prom.log_text());
    let reader_up = eventually(Duration::from_secs(20), || {
        let r = prom.query_vector("up{job=\"arc-consumers\"} == 1");
        (!r.is_empty()).then_some(())
    });
    assert!(reader_up.is_some(), "reader never scraped");
    exercise(&node, &mut pulsar, 8);
    // Let rate windows see the last events and the replay.
    std::thread::sleep(Duration::from_secs(5));

    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("config/grafana/dashboards/arc.json")).unwrap(),
    )
    .expect("dashboard JSON");
    let panels = panels(&dashboard);
    let end = now_s();
    let mut empty = Vec::new();
    let mut rendered = Vec::new();
    let mut queries = 0;
    for p in &panels {
        let mut series = Vec::new();
        for q in &p.queries {
            queries += 1;
            let expr = expand(&q.expr, &dashboard);
            // The instant query too: what a stat panel and an alert see now.
            let instant = prom.query(&expr);
            assert_eq!(
                instant["status"], "success",
                "{}: {expr}: {instant}",
                p.title
            );
            let s = range(&prom, &expr, &q.legend, start, end);
            if s.is_empty() {
                empty.push(format!("{}: {expr}", p.title));
            }
            series.extend(s);
        }
        rendered.push((p, series));
    }
    assert!(queries >= 40, "only {queries} queries in the dashboard");
    assert!(
        empty.is_empty(),
        "{} of {queries} dashboard queries return no data:\n{}",
        empty.len(),
        empty.join("\n")
    );

    let out = repo().join("target/dashboard");
    std::fs::create_dir_all(&out).unwrap();
    let html = render(&dashboard, &rendered, start, end);
    let html_path = out.join("dashboard.html");
    std::fs::write(&html_path, html).unwrap();
    let png = out.join("dashboard.png");
    screenshot(&html_path, &png, page_height(&panels));
    let size = std::fs::metadata(&png).map(|m| m.len()).unwrap_or(0);
    assert!(
        size > 10_000,
        "screenshot {} is {size} bytes",
        png.display()
    );
    eprintln!(
        "{queries} queries, all with data; dashboard rendered to {}",
        png.display()
    );
    let _ = reader.0.kill();
    let _ = reader.0.wait();
    rt.block_on(db.drop_it());
}

/// The reader process, killed when the test ends either way.
struct Reader(std::process::Child);

impl Drop for Reader {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const COL_PX: f64 = 66.0;
const ROW_PX: f64 = 30.0;
const COLORS: [&str; 8] = [
    "#73bf69", "#f2cc0c", "#5794f2", "#ff780a", "#b877d9", "#f2495c", "#8ab8ff", "#fade2a",
];

fn page_height(panels: &[Panel]) -> u64 {
    let rows = panels
        .iter()
        .map(|p| p.grid.1 + p.grid.3)
        .max()
        .unwrap_or(10);
    (rows as f64 * ROW_PX + 80.0) as u64
}

fn fmt_value(v: f64, unit: &str) -> String {
    match unit {
        "s" => {
            if v.abs() < 1.0 {
                format!("{:.0} ms", v * 1000.0)
            } else {
                format!("{v:.2} s")
            }
        }
        "bytes" | "decbytes" => {
            if v >= 1e6 {
                format!("{:.1} MB", v / 1e6)
            } else if v >= 1e3 {
                format!("{:.1} kB", v / 1e3)
            } else {
                format!("{v:.0} B")
            }
        }
        "percent" => format!("{v:.1} %"),
        _ => {
            if v.abs() >= 100.0 || v == v.trunc() {
                format!("{v:.0}")
            } else {
                format!("{v:.2}")
            }
        }
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn render(dashboard: &Value, panels: &[(&Panel, Vec<Series>)], start: f64, end: f64) -> String {
    let mut h = String::new();
    let title = dashboard["title"].as_str().unwrap_or("ARC");
    let _ = write!(
        h,
        r#"<!doctype html><html><head><meta charset="utf-8"><title>{t}</title><style>
body{{margin:0;background:#111217;color:#ccccdc;font:12px Inter,Helvetica,Arial,sans-serif}}
.top{{height:40px;padding:10px 16px;font-size:16px;color:#fff}}
.p{{position:absolute;background:#181b1f;border:1px solid #2c3235;border-radius:2px;box-sizing:border-box;overflow:hidden}}
.p h3{{margin:0;padding:6px 8px;font-size:12px;font-weight:500;color:#ccccdc}}
.row{{position:absolute;font-size:14px;color:#fff;padding:6px 8px;box-sizing:border-box}}
.stat{{font-size:30px;font-weight:500;padding:4px 10px}}
.lg{{padding:0 8px;font-size:10px;white-space:nowrap;overflow:hidden}}
.lg span{{margin-right:10px}}
</style></head><body><div class="top">{t} — rendered from a real Prometheus ({n} panels, last {d:.0} s)</div><div style="position:relative">"#,
        t = escape(title),
        n = panels.len(),
        d = end - start
    );
    for (p, series) in panels {
        let (x, y, w, hh) = p.grid;
        let (left, top) = (x as f64 * COL_PX, y as f64 * ROW_PX);
        let (width, height) = (w as f64 * COL_PX - 4.0, hh as f64 * ROW_PX - 4.0);
        if p.kind == "row" {
            let _ = write!(
                h,
                r#"<div class="row" style="left:{left}px;top:{top}px;width:{width}px">▾ {}</div>"#,
                escape(&p.title)
            );
            continue;
        }
        let _ = write!(
            h,
            r#"<div class="p" style="left:{left}px;top:{top}px;width:{width}px;height:{height}px"><h3>{}</h3>"#,
            escape(&p.title)
        );
        if p.kind == "stat" {
            for (i, s) in series.iter().enumerate() {
                let last = s.points.last().map(|p| p.1).unwrap_or(f64::NAN);
                let _ = write!(
                    h,
                    r#"<div class="stat" style="color:{}">{} <span style="font-size:11px;color:#8e8e8e">{}</span></div>"#,
                    COLORS[i % COLORS.len()],
                    fmt_value(last, &p.unit),
                    escape(&s.legend)
                );
            }
        } else {
            let (gw, gh) = (width - 50.0, height - 58.0);
            let lo = series
                .iter()
                .flat_map(|s| s.points.iter().map(|p| p.1))
                .fold(f64::INFINITY, f64::min)
                .min(0.0);
            let mut hi = series
                .iter()
                .flat_map(|s| s.points.iter().map(|p| p.1))
                .fold(f64::NEG_INFINITY, f64::max);
            if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) {
                hi = lo + 1.0;
            }
            let _ = write!(
                h,
                r##"<svg width="{width}" height="{}" style="display:block"><g transform="translate(44,4)"><rect width="{gw}" height="{gh}" fill="none" stroke="#2c3235"/>"##,
                gh + 18.0
            );
            for k in 0..=2 {
                let v = lo + (hi - lo) * k as f64 / 2.0;
                let yy = gh - gh * k as f64 / 2.0;
                let _ = write!(
                    h,
                    r##"<line x1="0" x2="{gw}" y1="{yy}" y2="{yy}" stroke="#2c3235"/><text x="-4" y="{}" fill="#8e8e8e" font-size="9" text-anchor="end">{}</text>"##,
                    yy + 3.0,
                    escape(&fmt_value(v, &p.unit))
                );
            }
            for (i, s) in series.iter().enumerate() {
                let pts: Vec<String> = s
                    .points
                    .iter()
                    .map(|(t, v)| {
                        let px = (t - start) / (end - start).max(1.0) * gw;
                        let py = gh - (v - lo) / (hi - lo) * gh;
                        format!("{px:.1},{py:.1}")
                    })
                    .collect();
                let _ = write!(
                    h,
                    r#"<polyline fill="none" stroke="{}" stroke-width="1.5" points="{}"/>"#,
                    COLORS[i % COLORS.len()],
                    pts.join(" ")
                );
            }
            let _ = write!(h, "</g></svg><div class=\"lg\">");
            for (i, s) in series.iter().enumerate() {
                let _ = write!(
                    h,
                    r#"<span style="color:{}">━ {}</span>"#,
                    COLORS[i % COLORS.len()],
                    escape(&s.legend)
                );
            }
            h.push_str("</div>");
        }
        h.push_str("</div>");
    }
    h.push_str("</div></body></html>");
    h
}

fn chromium() -> PathBuf {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|n| {
            ["/usr/bin", "/usr/local/bin"]
                .iter()
                .map(move |d| Path::new(d).join(n))
        })
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("chromium not found: run scripts/setup-test.sh (Debian `chromium`)")
        })
}

fn screenshot(html: &Path, png: &Path, height: u64) {
    let _ = std::fs::remove_file(png);
    let profile = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            &format!("--user-data-dir={}", profile.path().display()),
            &format!("--window-size={},{height}", (24.0 * COL_PX) as u64),
            &format!("--screenshot={}", png.display()),
            &format!("file://{}", html.display()),
        ])
        .output()
        .expect("chromium runs");
    assert!(
        png.is_file(),
        "chromium wrote no screenshot ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}
