//! The core's own JSON: a small value type (objects keep insertion order) and
//! a writer ([`ToJson`]) for the report model. The wasm bundle carries no
//! serde: serde_json's value, map, serializer and the derived impls cost it
//! some 30 KiB. With the `serde` feature (the CLI, the tests) the same types
//! also (de)serialize through serde, to the same text.

use crate::prelude::*;
use crate::support::text::slice;
use crate::support::vecmap::VecMap;

/// A JSON object: insertion-ordered (reports keep the order they were written in).
pub type Map = VecMap<Value>;

#[derive(Clone, Debug, Default, PartialEq)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Array(Vec<Value>),
    Object(Map),
}

/// A JSON number. Floats only ever come from parsed text, so they keep that
/// text for writing (no float formatter in the bundle).
#[derive(Clone, Debug)]
pub enum Number {
    U(u64),
    I(i64),
    /// The value and its JSON text.
    F(f64, Box<str>),
}

impl PartialEq for Number {
    /// By value; U holds every non-negative integer, I only negative ones.
    fn eq(&self, o: &Number) -> bool {
        match (self, o) {
            (Number::U(a), Number::U(b)) => a == b,
            (Number::I(a), Number::I(b)) => a == b,
            (Number::F(a, _), Number::F(b, _)) => a == b,
            _ => false,
        }
    }
}

static NULL: Value = Value::Null;

impl Value {
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(m) => m.get(key),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Number(Number::U(n)) => Some(*n),
            Value::Number(Number::I(n)) => u64::try_from(*n).ok(),
            _ => None,
        }
    }
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(Number::U(n)) => i64::try_from(*n).ok(),
            Value::Number(Number::I(n)) => Some(*n),
            _ => None,
        }
    }
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(Number::U(n)) => Some(*n as f64),
            Value::Number(Number::I(n)) => Some(*n as f64),
            Value::Number(Number::F(f, _)) => Some(*f),
            _ => None,
        }
    }
    pub fn as_object(&self) -> Option<&Map> {
        match self {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }
    pub fn as_array(&self) -> Option<&Vec<Value>> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
    pub fn is_object(&self) -> bool {
        matches!(self, Value::Object(_))
    }
    pub fn is_string(&self) -> bool {
        matches!(self, Value::String(_))
    }
}

impl core::ops::Index<&str> for Value {
    type Output = Value;
    /// `Null` when the key is missing or this is not an object (as serde_json).
    fn index(&self, key: &str) -> &Value {
        self.get(key).unwrap_or(&NULL)
    }
}

impl core::ops::Index<usize> for Value {
    type Output = Value;
    fn index(&self, i: usize) -> &Value {
        match self {
            Value::Array(a) => a.get(i).unwrap_or(&NULL),
            _ => &NULL,
        }
    }
}

macro_rules! from_unsigned {
    ($($t:ty),*) => {$(impl From<$t> for Value { fn from(n: $t) -> Value { Value::Number(Number::U(n as u64)) } })*};
}
macro_rules! from_signed {
    ($($t:ty),*) => {$(impl From<$t> for Value {
        fn from(n: $t) -> Value { Value::Number(if n < 0 { Number::I(n as i64) } else { Number::U(n as u64) }) }
    })*};
}
from_unsigned!(u8, u16, u32, u64, usize);
from_signed!(i32, i64);

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}
impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_owned())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}
impl From<Map> for Value {
    fn from(m: Map) -> Value {
        Value::Object(m)
    }
}
impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(v: Vec<T>) -> Value {
        Value::Array(v.into_iter().map(Into::into).collect())
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

// Comparisons the tests use (`fields["index"] == 95`, `v["a"] == "x"`).
impl PartialEq<&str> for Value {
    fn eq(&self, o: &&str) -> bool {
        self.as_str() == Some(*o)
    }
}
impl PartialEq<str> for Value {
    fn eq(&self, o: &str) -> bool {
        self.as_str() == Some(o)
    }
}
impl PartialEq<bool> for Value {
    fn eq(&self, o: &bool) -> bool {
        self.as_bool() == Some(*o)
    }
}
macro_rules! eq_int {
    ($($t:ty),*) => {$(impl PartialEq<$t> for Value {
        fn eq(&self, o: &$t) -> bool { self.as_i64() == Some(*o as i64) || (*o as i128 > i64::MAX as i128 && self.as_u64() == Some(*o as u64)) }
    })*};
}
eq_int!(i32, i64, u32, u64, usize);

/// `{ k1: v1, k2: v2, … }` in the given order.
pub fn object<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    Value::Object(pairs.into_iter().collect())
}

// ------------------------------------------------------------------ writing

/// Write as compact JSON (the text serde_json's `to_string` gives for the
/// same model, which the schema tests check).
pub trait ToJson {
    fn write_json(&self, out: &mut String);

    // `Self: Sized` keeps it out of `dyn ToJson`'s vtables (one copy per
    // type there, all unused: `ObjectWriter` only calls `write_json`).
    fn to_json_string(&self) -> String
    where
        Self: Sized,
    {
        let mut s = String::new();
        self.write_json(&mut s);
        s
    }
}

/// A JSON string literal.
pub fn write_str(s: &str, out: &mut String) {
    out.push('"');
    let mut run = 0;
    for (i, b) in s.bytes().enumerate() {
        let esc = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(slice(s, run, i));
        if esc.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        } else {
            out.push_str(esc);
        }
        run = i + 1;
    }
    out.push_str(slice(s, run, s.len()));
    out.push('"');
}

/// Decimal digits of `n` (no core::fmt).
pub fn write_u64(mut n: u64, out: &mut String) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // The buffer holds ASCII digits only.
    out.extend(buf[i..].iter().map(|&b| b as char));
}

/// Writes `{"k":v,…}` field by field; the values go through `dyn` to keep
/// one copy of the code per field type, not per struct.
pub struct ObjectWriter<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> ObjectWriter<'a> {
    pub fn new(out: &'a mut String) -> Self {
        out.push('{');
        ObjectWriter { out, first: true }
    }
    pub fn field(&mut self, key: &str, v: &dyn ToJson) -> &mut Self {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        write_str(key, self.out);
        self.out.push(':');
        v.write_json(self.out);
        self
    }
    pub fn end(&mut self) {
        self.out.push('}');
    }
}

/// `impl ToJson` for a struct: `json_struct!(Type { field: "jsonName", … })`,
/// fields in declaration order (as serde's derive writes them).
#[macro_export]
macro_rules! json_struct {
    ($t:ty { $($f:ident : $k:literal),* $(,)? }) => {
        impl $crate::support::json::ToJson for $t {
            fn write_json(&self, out: &mut String) {
                $crate::support::json::ObjectWriter::new(out)$(.field($k, &self.$f))*.end();
            }
        }
    };
}

/// `impl ToJson` for a unit enum written as its `as_str()`.
#[macro_export]
macro_rules! json_as_str {
    ($($t:ty),*) => {$(
        impl $crate::support::json::ToJson for $t {
            fn write_json(&self, out: &mut String) {
                $crate::support::json::write_str(self.as_str(), out)
            }
        }
    )*};
}

impl ToJson for str {
    fn write_json(&self, out: &mut String) {
        write_str(self, out)
    }
}
impl ToJson for String {
    fn write_json(&self, out: &mut String) {
        write_str(self, out)
    }
}
impl ToJson for bool {
    fn write_json(&self, out: &mut String) {
        out.push_str(if *self { "true" } else { "false" })
    }
}
macro_rules! to_json_unsigned {
    ($($t:ty),*) => {$(impl ToJson for $t { fn write_json(&self, out: &mut String) { write_u64(*self as u64, out) } })*};
}
to_json_unsigned!(u16, u32, u64, usize);

impl ToJson for i64 {
    fn write_json(&self, out: &mut String) {
        if *self < 0 {
            out.push('-');
        }
        write_u64(self.unsigned_abs(), out)
    }
}
impl<T: ToJson + ?Sized> ToJson for &T {
    fn write_json(&self, out: &mut String) {
        (**self).write_json(out)
    }
}
impl<T: ToJson> ToJson for Option<T> {
    fn write_json(&self, out: &mut String) {
        write_option(self.as_ref().map(|v| v as &dyn ToJson), out)
    }
}
// One body for every `Option<T>` (a dozen types in the report) instead of one copy each.
#[inline(never)]
fn write_option(v: Option<&dyn ToJson>, out: &mut String) {
    match v {
        Some(v) => v.write_json(out),
        None => out.push_str("null"),
    }
}
impl<T: ToJson> ToJson for [T] {
    fn write_json(&self, out: &mut String) {
        out.push('[');
        for (i, v) in self.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            v.write_json(out);
        }
        out.push(']');
    }
}
impl<T: ToJson> ToJson for Vec<T> {
    fn write_json(&self, out: &mut String) {
        self.as_slice().write_json(out)
    }
}
impl<T: ToJson> ToJson for VecMap<T> {
    fn write_json(&self, out: &mut String) {
        let mut o = ObjectWriter::new(out);
        for (k, v) in self.iter() {
            o.field(k, v);
        }
        o.end();
    }
}
impl ToJson for Number {
    fn write_json(&self, out: &mut String) {
        match self {
            Number::U(n) => write_u64(*n, out),
            Number::I(n) => n.write_json(out),
            // serde_json writes non-finite floats as null.
            Number::F(f, t) => out.push_str(if f.is_finite() { t } else { "null" }),
        }
    }
}
impl ToJson for Value {
    fn write_json(&self, out: &mut String) {
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => b.write_json(out),
            Value::Number(n) => n.write_json(out),
            Value::String(s) => write_str(s, out),
            Value::Array(a) => a.write_json(out),
            Value::Object(m) => m.write_json(out),
        }
    }
}

// -------------------------------------------------------------------- serde

#[cfg(feature = "serde")]
mod serde_impls {
    use crate::prelude::*;
    use super::{Map, Number, Value};
    use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
    use serde::ser::{Serialize, Serializer};
    use core::fmt;

    impl Serialize for Value {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            match self {
                Value::Null => s.serialize_unit(),
                Value::Bool(b) => s.serialize_bool(*b),
                Value::Number(Number::U(n)) => s.serialize_u64(*n),
                Value::Number(Number::I(n)) => s.serialize_i64(*n),
                Value::Number(Number::F(f, _)) => s.serialize_f64(*f),
                Value::String(x) => s.serialize_str(x),
                Value::Array(a) => s.collect_seq(a),
                Value::Object(m) => m.serialize(s),
            }
        }
    }

    impl<'de> Deserialize<'de> for Value {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Value;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a JSON value")
                }
                fn visit_unit<E>(self) -> Result<Value, E> {
                    Ok(Value::Null)
                }
                fn visit_none<E>(self) -> Result<Value, E> {
                    Ok(Value::Null)
                }
                fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
                    Value::deserialize(d)
                }
                fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
                    Ok(Value::Bool(b))
                }
                fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
                    Ok(n.into())
                }
                fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
                    Ok(n.into())
                }
                fn visit_f64<E>(self, f: f64) -> Result<Value, E> {
                    let text = serde_json::Number::from_f64(f).map_or_else(|| "null".to_owned(), |n| n.to_string());
                    Ok(Value::Number(Number::F(f, text.into())))
                }
                fn visit_str<E>(self, s: &str) -> Result<Value, E> {
                    Ok(Value::String(s.to_owned()))
                }
                fn visit_string<E>(self, s: String) -> Result<Value, E> {
                    Ok(Value::String(s))
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Value, A::Error> {
                    let mut v = Vec::new();
                    while let Some(x) = a.next_element()? {
                        v.push(x);
                    }
                    Ok(Value::Array(v))
                }
                fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Value, A::Error> {
                    let mut m = Map::new();
                    while let Some((k, v)) = a.next_entry::<String, Value>()? {
                        m.insert(k, v);
                    }
                    Ok(Value::Object(m))
                }
            }
            d.deserialize_any(V)
        }
    }

    impl Value {
        /// The same value as a serde_json one (the CLI works with those).
        pub fn to_serde(&self) -> serde_json::Value {
            match self {
                Value::Null => serde_json::Value::Null,
                Value::Bool(b) => (*b).into(),
                Value::Number(Number::U(n)) => (*n).into(),
                Value::Number(Number::I(n)) => (*n).into(),
                Value::Number(Number::F(f, _)) => (*f).into(),
                Value::String(s) => s.clone().into(),
                Value::Array(a) => a.iter().map(Value::to_serde).collect(),
                Value::Object(m) => serde_json::Value::Object(m.to_serde()),
            }
        }

        /// A serde_json value in this type (object key order kept as iterated).
        pub fn from_serde(v: &serde_json::Value) -> Value {
            match v {
                serde_json::Value::Null => Value::Null,
                serde_json::Value::Bool(b) => Value::Bool(*b),
                serde_json::Value::Number(n) => match (n.as_u64(), n.as_i64()) {
                    (Some(u), _) => u.into(),
                    (_, Some(i)) => i.into(),
                    _ => Value::Number(Number::F(n.as_f64().unwrap_or(0.0), n.to_string().into())),
                },
                serde_json::Value::String(s) => Value::String(s.clone()),
                serde_json::Value::Array(a) => Value::Array(a.iter().map(Value::from_serde).collect()),
                serde_json::Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.as_str(), Value::from_serde(v))).collect()),
            }
        }
    }

    impl Map {
        pub fn to_serde(&self) -> serde_json::Map<String, serde_json::Value> {
            self.iter().map(|(k, v)| (k.to_owned(), v.to_serde())).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_keeps_order_and_writes_compact_json() {
        let v = object([("b", 1.into()), ("a", Value::from(Some("x"))), ("n", Value::from(None::<u64>)), ("i", (-3i64).into())]);
        assert_eq!(v.to_json_string(), r#"{"b":1,"a":"x","n":null,"i":-3}"#);
        assert_eq!(v["a"], "x");
        assert!(v["missing"].is_null());
    }

    #[test]
    fn strings_are_escaped_as_serde_json_does() {
        for s in ["plain", "q\"b\\", "nl\ncr\rtab\t", "\u{1}\u{8}\u{c}\u{1f}", "é🙂\u{7f}", ""] {
            let mut out = String::new();
            write_str(s, &mut out);
            assert_eq!(out, serde_json::to_string(s).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn numbers_round_trip_through_the_parser() {
        for t in ["0", "18446744073709551615", "-9223372036854775808", "1.5", "-2.5e-7", "[1,2.25,{\"a\":null}]"] {
            let v = crate::otk::python_repr::parse_json(t).unwrap();
            assert_eq!(v.to_json_string(), t);
        }
        assert_eq!(crate::support::text::dec(0), "0");
        assert_eq!(crate::support::text::dec(1234567890123), "1234567890123");
    }
}
