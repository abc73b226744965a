//! The seed documents' JSON examples (`shared/seeds/`, beside the repository),
//! and which of their fields a payload lacks.

use serde_json::Value;

/// The seed's JSON example following the heading that names `name`.
pub fn seed_example(file: &str, name: &str) -> Value {
    let path = format!("{}/../../shared/seeds/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("seed file");
    let at = text.find(&format!("`{name}`")).expect("heading");
    let start = text[at..].find("```json").expect("json block") + at + 7;
    let end = text[start..].find("```").expect("end") + start;
    serde_json::from_str(&text[start..end]).expect("seed json")
}

/// Every key path of `example` (the seed's JSON) that `actual` lacks.
pub fn missing_paths(example: &Value, actual: &Value, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let (Value::Object(e), Value::Object(a)) = (example, actual) {
        for (k, v) in e {
            let path = format!("{prefix}{k}");
            match a.get(k) {
                None => out.push(path),
                Some(av) => out.extend(missing_paths(v, av, &format!("{path}."))),
            }
        }
    }
    out
}
