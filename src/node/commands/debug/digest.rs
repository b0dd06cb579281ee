//! The dataset digest of `DEBUG DIGEST` and `DEBUG DIGEST-VALUE`: a SHA1
//! fingerprint that two servers holding the same data agree on, whatever
//! order their hash tables keep the keys in. Test suites compare it across
//! a master and its replicas, or before and after a reload, so it follows
//! Redis's construction exactly:
//!
//! * `mix(d, data)`: `d = SHA1(d xor SHA1(data))`, order-sensitive;
//! * `xor(d, data)`: `d = d xor SHA1(data)`, order-insensitive;
//! * a key's digest mixes its name, its type code (4 bytes, big-endian),
//!   and its value, then xors in the marker `!!expire!!` if the key has a
//!   TTL (the expire time itself is not part of it);
//! * a database's keys are xored together into the result, after mixing
//!   in the database number (so moving data to another database changes
//!   the digest). An empty dataset gives twenty zero bytes.
//!
//! Like Redis, it reads the tables directly: keys that are logically
//! expired but not yet removed are included.

use sha1::{Digest, Sha1};

use crate::node::keyspace::{Data, Keyspace, Kind, Value};

pub type Sha1Digest = [u8; 20];

fn xor_in(d: &mut Sha1Digest, data: &[u8]) {
    for (a, b) in d.iter_mut().zip(Sha1::digest(data)) {
        *a ^= b;
    }
}

/// Xor a finished 20-byte digest into `d` (Redis's `xorDigest` of an
/// element digest hashes it again, like any data).
fn xor_in_digest(d: &mut Sha1Digest, e: &Sha1Digest) {
    xor_in(d, e);
}

fn mix_in(d: &mut Sha1Digest, data: &[u8]) {
    xor_in(d, data);
    *d = Sha1::digest(&d[..]).into();
}

/// Redis's type code (`OBJ_STRING` ...), part of every key's digest.
fn type_code(kind: Kind) -> u32 {
    match kind {
        Kind::String => 0,
        Kind::List => 1,
        Kind::Set => 2,
        Kind::ZSet => 3,
        Kind::Hash => 4,
    }
}

/// Add a value's type, contents and TTL marker to `d`.
fn add_value(d: &mut Sha1Digest, value: &Value, has_ttl: bool) {
    mix_in(d, &type_code(value.kind()).to_be_bytes());
    match &value.data {
        // Lists mix their elements in order; sets, hashes and sorted sets
        // xor a digest per element, so their internal order does not matter.
        Data::List(list) => list.iter().for_each(|e| mix_in(d, e)),
        Data::Set(set) => set.for_each(|m| xor_in(d, m)),
        Data::Hash(hash) => hash.for_each(|field, val| {
            let mut e = [0u8; 20];
            mix_in(&mut e, field);
            mix_in(&mut e, val);
            xor_in_digest(d, &e);
        }),
        Data::ZSet(zset) => zset.for_each(|member, score| {
            let mut e = [0u8; 20];
            mix_in(&mut e, member);
            mix_in(&mut e, crate::util::num::double_to_string(score).as_bytes());
            xor_in_digest(d, &e);
        }),
        // An int-encoded string counts as its decimal text.
        data => {
            if let Some(bytes) = data.string_bytes() {
                mix_in(d, &bytes);
            }
        }
    }
    if has_ttl {
        xor_in(d, b"!!expire!!");
    }
}

/// `DEBUG DIGEST-VALUE`: the digest of one value (not its key name).
pub fn value_digest(value: &Value, has_ttl: bool) -> Sha1Digest {
    let mut d = [0u8; 20];
    add_value(&mut d, value, has_ttl);
    d
}

/// `DEBUG DIGEST`: the digest of every database.
pub fn dataset_digest(keyspace: &Keyspace) -> Sha1Digest {
    let mut total = [0u8; 20];
    for (index, db) in keyspace.dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        mix_in(&mut total, &(index as u32).to_be_bytes());
        for (key, value) in db.keys.iter() {
            let mut d = [0u8; 20];
            mix_in(&mut d, key);
            add_value(&mut d, value, db.expire_of(key).is_some());
            xor_in(&mut total, &d);
        }
    }
    total
}

/// Forty lower-case hex digits.
pub fn hex(d: &Sha1Digest) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Digests captured from Redis 7.0.15.
    #[test]
    fn digests_match_redis() {
        let mut ks = Keyspace::new(16);
        assert_eq!(hex(&dataset_digest(&ks)), "0".repeat(40));
        ks.dbs[0].add(b"a", Value::string(b"1"));
        assert_eq!(
            hex(&dataset_digest(&ks)),
            "943d800368fb9c0e951138f1bc0e313ac769d91f"
        );
        assert_eq!(
            hex(&value_digest(&Value::string(b"1"), false)),
            "b4fc66738120fba0b5aa500ab5c2bf89cea1c5da"
        );
        // Any TTL gives the same digest: only its presence counts.
        ks.dbs[0].set_expire(b"a", 1);
        let with_ttl = hex(&dataset_digest(&ks));
        ks.dbs[0].set_expire(b"a", 2_000_000_000_000);
        assert_eq!(hex(&dataset_digest(&ks)), with_ttl);
        assert_eq!(with_ttl, "0c68bbcf4ad5c984f8ca839729889d52ec025271");
    }

    #[test]
    fn key_order_does_not_matter_but_the_database_does() {
        let mut a = Keyspace::new(2);
        a.dbs[0].add(b"x", Value::string(b"1"));
        a.dbs[0].add(b"y", Value::string(b"2"));
        let mut b = Keyspace::new(2);
        b.dbs[0].add(b"y", Value::string(b"2"));
        b.dbs[0].add(b"x", Value::string(b"1"));
        assert_eq!(dataset_digest(&a), dataset_digest(&b));
        let mut c = Keyspace::new(2);
        c.dbs[1].add(b"y", Value::string(b"2"));
        c.dbs[1].add(b"x", Value::string(b"1"));
        assert_ne!(dataset_digest(&a), dataset_digest(&c));
    }
}
