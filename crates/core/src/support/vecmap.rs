//! A small insertion-ordered map that serializes as a JSON object.
//!
//! The report's maps hold a handful of keys. A `BTreeMap` per value type
//! costs the wasm bundle its own tree and sort code each; a Vec costs almost
//! nothing, and lookups over five keys are as fast.


use crate::prelude::*;

#[derive(Clone, Debug)]
pub struct VecMap<V>(Vec<(String, V)>);

impl<V> Default for VecMap<V> {
    fn default() -> Self {
        VecMap(Vec::new())
    }
}

impl<V> VecMap<V> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&self, key: &str) -> Option<&V> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Insert or replace; a new key goes last.
    pub fn insert(&mut self, key: impl Into<String>, value: V) {
        let key = key.into();
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key, value)),
        }
    }

    pub fn get_or_default(&mut self, key: &str) -> &mut V
    where
        V: Default,
    {
        let i = match self.0.iter().position(|(k, _)| k == key) {
            Some(i) => i,
            None => {
                self.0.push((key.to_owned(), V::default()));
                self.0.len() - 1
            }
        };
        &mut self.0[i].1
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &V)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&str, &mut V)> {
        self.0.iter_mut().map(|(k, v)| (k.as_str(), v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.0.iter().map(|(k, _)| k)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn remove(&mut self, key: &str) -> Option<V> {
        let i = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.remove(i).1)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Map equality: the same keys with equal values, in any order (JSON objects,
/// and Synapse's dict comparison of one-time keys, ignore order).
impl<V: PartialEq> PartialEq for VecMap<V> {
    fn eq(&self, o: &Self) -> bool {
        self.0.len() == o.0.len() && self.0.iter().all(|(k, v)| o.get(k) == Some(v))
    }
}

impl<V> core::ops::Index<&str> for VecMap<V> {
    type Output = V;
    fn index(&self, key: &str) -> &V {
        self.get(key).expect("key present in VecMap")
    }
}

impl<K: Into<String>, V> FromIterator<(K, V)> for VecMap<V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut m = VecMap::new();
        for (k, v) in iter {
            m.insert(k, v);
        }
        m
    }
}

impl<'a, V> IntoIterator for &'a VecMap<V> {
    type Item = (&'a String, &'a V);
    type IntoIter = core::iter::Map<core::slice::Iter<'a, (String, V)>, fn(&'a (String, V)) -> (&'a String, &'a V)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

#[cfg(feature = "serde")]
mod serde_impls {
use crate::prelude::*;
use super::VecMap;
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use core::fmt;
use core::marker::PhantomData;

impl<V: Serialize> Serialize for VecMap<V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for VecMap<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V2<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for V2<V> {
            type Value = VecMap<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                let mut m = VecMap::new();
                while let Some((k, v)) = a.next_entry::<String, V>()? {
                    m.insert(k, v);
                }
                Ok(m)
            }
        }
        d.deserialize_map(V2(PhantomData))
    }
}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_get_order_and_json() {
        let mut m = VecMap::new();
        m.insert("b", 1u32);
        m.insert("a", 2);
        m.insert("b", 3);
        *m.get_or_default("c") += 4;
        assert_eq!(m["b"], 3);
        assert_eq!(m.len(), 3);
        let s = crate::support::json::ToJson::to_json_string(&m);
        assert_eq!(s, r#"{"b":3,"a":2,"c":4}"#);
        #[cfg(feature = "serde")]
        {
            assert_eq!(serde_json::to_string(&m).unwrap(), s);
            let back: VecMap<u32> = serde_json::from_str(&s).unwrap();
            assert_eq!(back, m);
        }
    }
}
