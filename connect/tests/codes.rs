//! The relay's table of lookups: expiry, resume tokens, and the limits on guessing — per client
//! network (/24, /64), relay-wide, never forgetting a limited client early, never locking an office
//! out of a right code. Deterministic: time is a number.

use std::net::IpAddr;

use glimpse_connect::relay::{
    client_network, CodePolicy, CodeRegistry, CodeRejection, ResumeRefusal,
};
use glimpse_connect::{ConnectError, Lookup};

fn lookup(v: u32) -> Lookup {
    Lookup::new(v).unwrap()
}

fn policy() -> CodePolicy {
    let mut p = CodePolicy::default();
    p.unused_ttl_ms = 1000;
    p.resume_ttl_ms = 500;
    p.max_failures = 3;
    p.failure_window_ms = 10_000;
    p
}

#[test]
fn client_networks_group_addresses() {
    let net = |s: &str| client_network(s.parse::<IpAddr>().unwrap());
    assert_eq!(net("192.0.2.77"), "192.0.2.0/24");
    assert_eq!(net("192.0.2.1"), net("192.0.2.254"));
    assert_ne!(net("192.0.2.1"), net("192.0.3.1"));
    assert_eq!(net("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
    assert_eq!(net("2001:db8:1:2::9"), net("2001:db8:1:2:ffff::1"));
    assert_eq!(net("::ffff:192.0.2.9"), "192.0.2.0/24");
}

#[test]
fn lookups_expire_when_unused() {
    let mut reg: CodeRegistry<&str> = CodeRegistry::new(policy());
    let l = lookup(11_122);
    assert!(reg.insert(l, "s1", 0));
    assert!(!reg.insert(l, "s2", 10), "taken: draw again");
    assert_eq!(reg.lookup(l, "a", 500), Ok("s1"));
    reg.touch(l, 1400);
    assert_eq!(reg.lookup(l, "a", 2399), Ok("s1"));
    assert_eq!(reg.lookup(l, "b", 3399), Err(CodeRejection::Expired));
    reg.expire(3399);
    assert_eq!(reg.lookup_count(), 0);
    assert_eq!(reg.lookup(l, "c", 3400), Err(CodeRejection::Unknown));
    assert_eq!(ConnectError::from(CodeRejection::Expired).code(), 34);
    assert_eq!(ConnectError::from(CodeRejection::Unknown).code(), 33);
    assert!(reg.insert(l, "s3", 5000), "an expired lookup may be reused");
    reg.remove(l);
    assert_eq!(reg.lookup(l, "a", 5002), Err(CodeRejection::Unknown));
}

#[test]
fn a_limited_network_is_refused_unknown_lookups_but_reaches_a_right_one() {
    let mut reg: CodeRegistry<u32> = CodeRegistry::new(policy());
    let right = lookup(55_511);
    assert!(reg.insert(right, 7, 0));
    for (i, guess) in [55_512, 0, 55_513].into_iter().enumerate() {
        assert_eq!(
            reg.lookup(lookup(guess), "office", 100 + i as u64),
            Err(CodeRejection::Unknown)
        );
    }
    // Three failures: unknown lookups are rate limited now ...
    assert_eq!(
        reg.lookup(lookup(1), "office", 200),
        Err(CodeRejection::RateLimited {
            retry_after_ms: 9900
        })
    );
    // ... but somebody in the same office with the right code still reaches the host, whose key
    // exchange is the real check.
    assert_eq!(reg.lookup(right, "office", 201), Ok(7));
    assert_eq!(
        reg.lookup(lookup(2), "elsewhere", 202),
        Err(CodeRejection::Unknown)
    );
    reg.expire(30_000);
    assert_eq!(reg.tracked_clients(), 0, "old failure records are dropped");
}

#[test]
fn limited_clients_are_never_forgotten_early() {
    let mut p = policy();
    p.max_tracked_clients = 50;
    p.max_relay_failures = 0; // only the per-network limit here
    let mut reg: CodeRegistry<u32> = CodeRegistry::new(p);
    for _ in 0..3 {
        let _ = reg.lookup(lookup(1), "limited", 0);
    }
    assert!(matches!(
        reg.lookup(lookup(1), "limited", 1),
        Err(CodeRejection::RateLimited { .. })
    ));
    // 10 001 other networks fail afterwards, far more than the table holds.
    for i in 0..10_001u64 {
        let _ = reg.lookup(lookup(1), &format!("net{i}"), 2 + i / 100);
        assert!(reg.tracked_clients() <= 50);
    }
    assert!(
        matches!(
            reg.lookup(lookup(1), "limited", 200),
            Err(CodeRejection::RateLimited { .. })
        ),
        "still limited after 10 001 other networks failed"
    );
}

/// The pattern seen in an attack on the old relay: 60 000 guesses from 10 500 addresses. Once the
/// relay-wide budget is spent, every join is refused until the window passes, right lookups too;
/// resume tokens (viewers already in) still work.
#[test]
fn the_relay_wide_budget_stops_a_distributed_guessing_run() {
    let mut reg: CodeRegistry<u32> = CodeRegistry::new(CodePolicy::default());
    let right = lookup(42_424);
    assert!(reg.insert(right, 1, 0));
    reg.issue_resume(1, 9, [5; 16], 0);
    let mut refused = 0;
    let mut reached = 0;
    for i in 0..60_000u64 {
        let net = format!("198.{}.{}.0/24", (i % 10_500) / 256, (i % 10_500) % 256);
        let guess = lookup(((i * 7919) % 100_000) as u32);
        let now = i / 5; // about 5 000 guesses a second
        match reg.lookup(guess, &net, now) {
            Err(CodeRejection::RateLimited { .. }) => refused += 1,
            Ok(_) => reached += 1,
            Err(_) => {}
        }
    }
    println!("60 000 guesses from 10 500 networks: {refused} refused, {reached} reached a session");
    assert!(refused >= 58_000, "{refused}");
    assert!(reached <= 1);
    assert!(matches!(
        reg.lookup(right, "friend", 12_000),
        Err(CodeRejection::RateLimited { .. })
    ));
    assert_eq!(
        reg.resume(&[5; 16], 12_000),
        Ok((1, 9)),
        "viewers already in come back"
    );
    reg.expire(12_000 + 60_001);
    assert_eq!(
        reg.lookup(right, "friend", 12_000 + 60_001),
        Ok(1),
        "the window passed"
    );
}

#[test]
fn resume_tokens_work_once_and_expire() {
    let mut reg: CodeRegistry<&str> = CodeRegistry::new(policy());
    let token = [9u8; 16];
    reg.issue_resume("s1", 42, token, 1000);
    assert_eq!(reg.resume(&[8u8; 16], 1100), Err(ResumeRefusal::Unknown));
    assert_eq!(reg.resume(&token, 1499), Ok(("s1", 42)));
    assert_eq!(
        reg.resume(&token, 1499),
        Err(ResumeRefusal::Unknown),
        "one use"
    );
    reg.issue_resume("s1", 43, token, 2000);
    assert_eq!(
        reg.resume(&token, 2500),
        Err(ResumeRefusal::Unknown),
        "too late"
    );
}

/// A removed viewer that comes back with its token (it never got its close frame) is told it was
/// removed, as often as it tries within the token's lifetime, not sent to join with the code.
#[test]
fn a_removed_viewers_token_says_removed_until_it_would_have_expired() {
    let mut reg: CodeRegistry<&str> = CodeRegistry::new(policy());
    let token = [7u8; 16];
    reg.issue_resume("s1", 5, token, 1000);
    reg.refuse_resume(token, 1100);
    assert_eq!(reg.resume(&token, 1200), Err(ResumeRefusal::Removed));
    assert_eq!(reg.resume(&token, 1599), Err(ResumeRefusal::Removed));
    reg.expire(1600);
    assert_eq!(reg.resume(&token, 1600), Err(ResumeRefusal::Unknown));
    // Another viewer's token is untouched.
    reg.issue_resume("s1", 6, [1u8; 16], 1600);
    reg.refuse_resume([2u8; 16], 1600);
    assert_eq!(reg.resume(&[1u8; 16], 1700), Ok(("s1", 6)));
}
