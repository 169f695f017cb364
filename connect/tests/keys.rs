//! The relay's key table: key format, expiry, per-client rate limiting of wrong keys, resume
//! tokens. Deterministic: time is a number, randomness a seeded generator.

use glimpse_connect::relay::{KeyPolicy, KeyRegistry, KeyRejection};
use glimpse_connect::{ConnectError, SessionKey};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let z = self.0;
        (z ^ (z >> 29)).wrapping_mul(0xbf58476d1ce4e5b9) ^ (z >> 32)
    }
}

fn key(text: &str) -> SessionKey {
    SessionKey::parse(text).unwrap()
}

#[test]
fn session_keys_parse_and_format() {
    let key = SessionKey::parse("123 456 789").unwrap();
    assert_eq!(key.value(), 123_456_789);
    assert_eq!(SessionKey::parse("123-456-789").unwrap(), key);
    assert_eq!(SessionKey::parse("123456789").unwrap(), key);
    assert_eq!(SessionKey::parse(" 12-34 5678 9 ").unwrap(), key);
    assert_eq!(key.to_string(), "123 456 789");
    assert_eq!(
        SessionKey::parse("000 000 042").unwrap().to_string(),
        "000 000 042"
    );
    assert_eq!(SessionKey::parse("999999999").unwrap().value(), 999_999_999);
    for bad in [
        "",
        "12345678",
        "1234567890",
        "123 456 78a",
        "abc def ghi",
        "123_456_789",
        "１２３４５６７８９",
        "123.456.789",
        "+123456789",
        "12345678\u{0}9",
    ] {
        let e = SessionKey::parse(bad).unwrap_err();
        assert_eq!(e.code(), 32, "{bad:?}");
    }
    assert!(SessionKey::from_value(999_999_999).is_ok());
    assert!(SessionKey::from_value(1_000_000_000).is_err());
}

#[test]
fn random_keys_cover_the_range() {
    assert_eq!(SessionKey::from_random(0).value(), 0);
    assert_eq!(SessionKey::from_random(u64::MAX).value(), 999_999_999);
    assert_eq!(SessionKey::from_random(1 << 63).value(), 500_000_000);
    // Even spread: 10 000 consecutive-bucket draws land about evenly in 10 bins.
    let mut rng = Rng(3);
    let mut bins = [0u32; 10];
    for _ in 0..10_000 {
        bins[(SessionKey::from_random(rng.next()).value() / 100_000_000) as usize] += 1;
    }
    assert!(bins.iter().all(|&b| (850..1150).contains(&b)), "{bins:?}");
}

fn policy() -> KeyPolicy {
    let mut p = KeyPolicy::default();
    p.unused_ttl_ms = 1000;
    p.resume_ttl_ms = 500;
    p.max_failures = 3;
    p.failure_window_ms = 10_000;
    p
}

#[test]
fn keys_expire_when_unused() {
    let mut reg: KeyRegistry<&str> = KeyRegistry::new(policy());
    let k = SessionKey::parse("111 222 333").unwrap();
    assert!(reg.insert(k, "s1", 0));
    assert!(!reg.insert(k, "s2", 10), "taken: draw again");
    assert_eq!(reg.lookup(key("111-222-333"), "ip1", 500), Ok("s1"));
    // The lookup kept it alive until 1500; a touch until 2400.
    reg.touch(k, 1400);
    assert_eq!(reg.lookup(key("111222333"), "ip1", 2399), Ok("s1"));
    assert_eq!(
        reg.lookup(key("111222333"), "ip2", 3399),
        Err(KeyRejection::Expired)
    );
    reg.expire(3399);
    assert_eq!(reg.key_count(), 0);
    assert_eq!(
        reg.lookup(key("111222333"), "ip3", 3400),
        Err(KeyRejection::Unknown)
    );
    assert_eq!(ConnectError::from(KeyRejection::Expired).code(), 34);
    assert_eq!(ConnectError::from(KeyRejection::Unknown).code(), 33);
    // An expired key may be reused.
    assert!(reg.insert(k, "s3", 5000));
    assert_eq!(reg.lookup(key("111222333"), "ip1", 5001), Ok("s3"));
    reg.remove(k);
    assert_eq!(
        reg.lookup(key("111222333"), "ip1", 5002),
        Err(KeyRejection::Unknown)
    );
}

#[test]
fn wrong_keys_are_rate_limited_per_client() {
    let mut reg: KeyRegistry<u32> = KeyRegistry::new(policy());
    let k = SessionKey::parse("555 000 111").unwrap();
    assert!(reg.insert(k, 7, 0));
    for (i, guess) in ["555 000 112", "000 000 000", "555 000 113"]
        .iter()
        .enumerate()
    {
        assert_eq!(
            reg.lookup(key(guess), "attacker", 100 + i as u64),
            Err(KeyRejection::Unknown)
        );
    }
    // Third failure at t=102: limited until 100 + 10 000.
    let limited = reg.lookup(key("555 000 111"), "attacker", 200);
    assert_eq!(
        limited,
        Err(KeyRejection::RateLimited {
            retry_after_ms: 9900
        }),
        "right key refused"
    );
    assert_eq!(
        ConnectError::from(limited.unwrap_err()),
        ConnectError::RateLimited {
            retry_after_ms: 9900
        }
    );
    assert_eq!(
        reg.lookup(key("555 000 111"), "friend", 200),
        Ok(7),
        "other clients unaffected"
    );
    reg.touch(k, 10_000);
    assert!(matches!(
        reg.lookup(key("555 000 111"), "attacker", 10_099),
        Err(KeyRejection::RateLimited { .. })
    ));
    // The window passes for the oldest failure: one more try is allowed.
    assert_eq!(reg.lookup(key("555 000 111"), "attacker", 10_100), Ok(7));
    // Failures are counted in a sliding window: a fresh burst of three limits again.
    for t in [10_101, 10_102, 10_103] {
        assert_eq!(
            reg.lookup(key("000 000 000"), "attacker", t),
            Err(KeyRejection::Unknown)
        );
    }
    assert_eq!(
        reg.lookup(key("555 000 111"), "attacker", 10_104),
        Err(KeyRejection::RateLimited {
            retry_after_ms: 10_101 + 10_000 - 10_104
        })
    );
    reg.expire(30_000);
    assert_eq!(reg.tracked_clients(), 0, "old failure records are dropped");
}

#[test]
fn the_failure_table_is_bounded() {
    let mut p = policy();
    p.max_tracked_clients = 50;
    let mut reg: KeyRegistry<u32> = KeyRegistry::new(p);
    for i in 0..1000u64 {
        let _ = reg.lookup(key("000000000"), &format!("client{i}"), i);
        assert!(reg.tracked_clients() <= 50);
    }
    // The newest clients are remembered; the oldest were evicted.
    for _ in 0..2 {
        let _ = reg.lookup(key("000000000"), "client999", 1000);
    }
    assert!(matches!(
        reg.lookup(key("000000000"), "client999", 1001),
        Err(KeyRejection::RateLimited { .. })
    ));
    for _ in 0..2 {
        let _ = reg.lookup(key("000000000"), "client0", 1002);
    }
    assert_eq!(
        reg.lookup(key("000000000"), "client0", 1003),
        Err(KeyRejection::Unknown),
        "forgotten"
    );
}

#[test]
fn resume_tokens_work_once_and_expire() {
    let mut reg: KeyRegistry<&str> = KeyRegistry::new(policy());
    let token = [9u8; 16];
    reg.issue_resume("s1", 42, token, 1000);
    assert_eq!(reg.resume(&[8u8; 16], 1100), None);
    assert_eq!(reg.resume(&token, 1499), Some(("s1", 42)));
    assert_eq!(reg.resume(&token, 1499), None, "one use");
    reg.issue_resume("s1", 43, token, 2000);
    assert_eq!(reg.resume(&token, 2500), None, "too late");
    reg.issue_resume("s2", 44, [1; 16], 3000);
    reg.expire(3500);
    assert_eq!(reg.resume(&[1; 16], 3400), None, "expire dropped it");
}
