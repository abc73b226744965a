//! Tools declared in config (`[[session.brain.tools]]`, kind "http"): the
//! model's arguments go to an HTTP endpoint (a GET as query parameters, any
//! other method as a JSON body) and its JSON answer back to the model. Each
//! call has the tool's own timeout, shortened to what is left of the turn.

use arc_actors::engine::{CancellationToken, ToolCall, ToolEngine, ToolError, ToolSpec};
use async_trait::async_trait;
use std::time::Duration;

/// Largest answer given to the model; a bigger one would crowd the prompt.
const MAX_RESULT_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub struct HttpTool {
    pub name: String,
    pub description: String,
    pub url: String,
    /// GET, POST, PUT, PATCH or DELETE.
    pub method: String,
    /// JSON schema of the arguments.
    pub parameters: serde_json::Value,
    pub timeout: Duration,
}

/// The HTTP tools of a node, shared by its sessions.
#[derive(Debug, Clone)]
pub struct HttpTools {
    client: reqwest::Client,
    tools: Vec<HttpTool>,
}

impl HttpTools {
    pub fn new(tools: Vec<HttpTool>) -> Self {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(1000))
            .build()
            .unwrap_or_default();
        Self { client, tools }
    }

    async fn request(
        &self,
        tool: &HttpTool,
        call: &ToolCall,
        timeout: Duration,
    ) -> Result<String, ToolError> {
        let failed = |message: String| ToolError::Failed {
            tool: tool.name.clone(),
            message,
        };
        let args: serde_json::Value = if call.arguments.trim().is_empty() {
            serde_json::json!({})
        } else {
            serde_json::from_str(&call.arguments).map_err(|e| ToolError::BadArguments {
                tool: tool.name.clone(),
                message: e.to_string(),
            })?
        };
        let method = reqwest::Method::from_bytes(tool.method.to_ascii_uppercase().as_bytes())
            .map_err(|e| failed(e.to_string()))?;
        let mut req = self
            .client
            .request(method.clone(), &tool.url)
            .timeout(timeout);
        if method == reqwest::Method::GET {
            let pairs: Vec<(String, String)> = args
                .as_object()
                .map(|o| {
                    o.iter()
                        .map(|(k, v)| {
                            let v = match v {
                                serde_json::Value::String(s) => s.clone(),
                                other => other.to_string(),
                            };
                            (k.clone(), v)
                        })
                        .collect()
                })
                .unwrap_or_default();
            req = req.query(&pairs);
        } else {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(args.to_string());
        }
        // A timeout is its own error; anything else says what failed (no URL).
        let http_error = |e: reqwest::Error| {
            if e.is_timeout() {
                ToolError::Timeout {
                    tool: tool.name.clone(),
                    after_ms: timeout.as_millis() as u64,
                }
            } else {
                failed(e.without_url().to_string())
            }
        };
        let resp = req.send().await.map_err(http_error)?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(http_error)?;
        if !status.is_success() {
            return Err(failed(format!("HTTP {}", status.as_u16())));
        }
        if body.len() > MAX_RESULT_BYTES {
            return Err(ToolError::BadOutput {
                tool: tool.name.clone(),
                message: format!("{} bytes, more than {MAX_RESULT_BYTES}", body.len()),
            });
        }
        let value: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| ToolError::BadOutput {
                tool: tool.name.clone(),
                message: e.to_string(),
            })?;
        Ok(value.to_string())
    }
}

#[async_trait]
impl ToolEngine for HttpTools {
    fn specs(&self) -> Vec<ToolSpec> {
        self.tools
            .iter()
            .map(|t| ToolSpec {
                name: t.name.clone(),
                description: t.description.clone(),
                parameters: t.parameters.clone(),
            })
            .collect()
    }

    async fn call(
        &self,
        call: &ToolCall,
        timeout: Duration,
        cancel: CancellationToken,
    ) -> Result<String, ToolError> {
        let Some(tool) = self.tools.iter().find(|t| t.name == call.name) else {
            return Err(ToolError::Unknown {
                tool: call.name.clone(),
            });
        };
        let timeout = timeout.min(tool.timeout).max(Duration::from_millis(1));
        tokio::select! {
            _ = cancel.cancelled() => Err(ToolError::Failed { tool: tool.name.clone(), message: "cancelled".into() }),
            r = self.request(tool, call, timeout) => r,
        }
    }
}
