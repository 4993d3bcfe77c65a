//! Building JSON objects without `serde_json::json!`: the macro routes every
//! non-literal through `to_value(..).unwrap()`, which brings serde_json's value
//! serializer, its error type and all its error texts into the wasm bundle.

use serde_json::{Map, Value};

/// `{ k1: v1, k2: v2, … }` in the given order (the map sorts keys anyway).
pub fn object<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    let mut m = Map::new();
    for (k, v) in pairs {
        m.insert(k.to_owned(), v);
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_as_the_macro() {
        let v = object([("b", 1.into()), ("a", Value::from(Some("x"))), ("n", Value::from(None::<u64>))]);
        assert_eq!(v, serde_json::json!({"a": "x", "b": 1, "n": null}));
    }
}
