//! Model-based tests: random sequences of sorted-set operations applied to
//! a [`ZSet`] (crossing listpack → skiplist conversions on the way) and to
//! a plain model, a `BTreeMap` from (score, member) plus a member → score
//! map, must agree on every answer: membership, scores, ranks, rank and
//! score ranges, counts, removals and pops.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

use proptest::prelude::*;

use super::*;

/// A score with a total order that agrees with IEEE comparison on the
/// scores the tests generate (no NaN, no -0).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Score(f64);

impl Eq for Score {}

impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Score {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.partial_cmp(&other.0).expect("no NaN in tests")
    }
}

#[derive(Default)]
struct Model {
    order: BTreeMap<(Score, Vec<u8>), ()>,
    scores: HashMap<Vec<u8>, f64>,
}

impl Model {
    fn add(&mut self, m: &[u8], s: f64) {
        if let Some(old) = self.scores.insert(m.to_vec(), s) {
            self.order.remove(&(Score(old), m.to_vec()));
        }
        self.order.insert((Score(s), m.to_vec()), ());
    }

    fn remove(&mut self, m: &[u8]) -> bool {
        match self.scores.remove(m) {
            Some(old) => {
                self.order.remove(&(Score(old), m.to_vec()));
                true
            }
            None => false,
        }
    }

    fn sorted(&self) -> Vec<(Vec<u8>, f64)> {
        self.order.keys().map(|(s, m)| (m.clone(), s.0)).collect()
    }
}

#[derive(Clone, Debug)]
enum Op {
    Add(usize, f64, AddFlags),
    Remove(usize),
    RemoveRanks(usize, usize),
    RemoveScores(ScoreRange),
    Pop(bool),
}

/// Members with ties in every interesting way: a prefix of another, a NUL,
/// high bytes, the empty string, and long ones (past the value limit).
fn member(i: usize) -> Vec<u8> {
    match i % 8 {
        0 => format!("m{i}").into_bytes(),
        1 => format!("m{}", i - 1)
            .into_bytes()
            .into_iter()
            .chain([0])
            .collect(),
        2 => vec![0xff; i % 5],
        3 => format!("member-with-a-long-name-{i}").into_bytes(),
        _ => format!("{}", i * 7 % 31).into_bytes(),
    }
}

fn score() -> impl Strategy<Value = f64> {
    prop_oneof![
        (-4i32..5)
            .prop_map(|n| n as f64 / 2.0)
            .prop_filter("no -0", |s| *s != 0.0 || s.is_sign_positive()),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(1e300),
    ]
}

fn range() -> impl Strategy<Value = ScoreRange> {
    (score(), score(), any::<bool>(), any::<bool>()).prop_map(
        |(min, max, min_exclusive, max_exclusive)| ScoreRange {
            min,
            max,
            min_exclusive,
            max_exclusive,
        },
    )
}

fn flags() -> impl Strategy<Value = AddFlags> {
    (0u8..8, any::<bool>()).prop_map(|(k, incr)| {
        let mut f = AddFlags {
            incr,
            ..AddFlags::default()
        };
        match k {
            1 => f.nx = true,
            2 => f.xx = true,
            3 => f.gt = true,
            4 => f.lt = true,
            5 => {
                f.xx = true;
                f.gt = true;
            }
            _ => {}
        }
        f
    })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0usize..40, score(), flags()).prop_map(|(m, s, f)| Op::Add(m, s, f)),
        2 => (0usize..40).prop_map(Op::Remove),
        1 => (0usize..30, 0usize..30).prop_map(|(a, b)| Op::RemoveRanks(a, b)),
        1 => range().prop_map(Op::RemoveScores),
        1 => any::<bool>().prop_map(Op::Pop),
    ]
}

/// What ZADD does to the model (the rules of `zsetAdd`).
fn model_add(model: &mut Model, m: &[u8], s: f64, f: AddFlags) -> AddOutcome {
    match model.scores.get(m).copied() {
        None if f.xx => AddOutcome::Skipped,
        None => {
            model.add(m, s);
            AddOutcome::Added(s)
        }
        Some(_) if f.nx => AddOutcome::Skipped,
        Some(cur) => {
            let new = if f.incr { cur + s } else { s };
            if new.is_nan() {
                return AddOutcome::Nan;
            }
            if (f.lt && new >= cur) || (f.gt && new <= cur) {
                return AddOutcome::Skipped;
            }
            if new == cur {
                return AddOutcome::Unchanged(new);
            }
            model.add(m, new);
            AddOutcome::Updated(new)
        }
    }
}

fn check_agrees(z: &ZSet, model: &Model, probe: &ScoreRange) -> Result<(), TestCaseError> {
    let expected = model.sorted();
    let got: Vec<(Vec<u8>, f64)> = z.iter().map(|(m, s)| (m.to_vec(), s)).collect();
    prop_assert_eq!(&got, &expected);
    prop_assert_eq!(z.len(), expected.len());
    for (rank, (m, s)) in expected.iter().enumerate() {
        prop_assert_eq!(z.score(m), Some(*s));
        prop_assert_eq!(z.rank(m), Some(rank));
    }
    prop_assert_eq!(z.rank(b"never-a-member"), None);
    // Walks from a rank, both ways.
    for rank in [0, expected.len() / 2, expected.len().saturating_sub(1)] {
        let fwd: Vec<Vec<u8>> = z.iter_at(rank, false).map(|(m, _)| m.to_vec()).collect();
        let want: Vec<Vec<u8>> = expected.iter().skip(rank).map(|(m, _)| m.clone()).collect();
        prop_assert_eq!(fwd, want);
        let back: Vec<Vec<u8>> = z.iter_at(rank, true).map(|(m, _)| m.to_vec()).collect();
        let want: Vec<Vec<u8>> = expected
            .iter()
            .take(if expected.is_empty() { 0 } else { rank + 1 })
            .rev()
            .map(|(m, _)| m.clone())
            .collect();
        prop_assert_eq!(back, want);
    }
    // A score range: its ends and its size.
    let inside: Vec<usize> = (0..expected.len())
        .filter(|&i| probe.gte_min(expected[i].1) && probe.lte_max(expected[i].1))
        .collect();
    prop_assert_eq!(z.first_in_score_range(probe), inside.first().copied());
    prop_assert_eq!(z.last_in_score_range(probe), inside.last().copied());
    prop_assert_eq!(z.count_in_score_range(probe), inside.len());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn zset_agrees_with_a_sorted_map(
        ops in proptest::collection::vec(op(), 1..120),
        max_entries in 0usize..24,
        max_value in 0usize..12,
        probe in range(),
    ) {
        let limits = Limits { max_entries, max_value };
        let mut z: Option<ZSet> = None;
        let mut model = Model::default();
        for op in ops {
            match op {
                Op::Add(i, s, f) => {
                    let m = member(i);
                    let set = z.get_or_insert_with(|| ZSet::new_for(&m, limits));
                    let want = model_add(&mut model, &m, s, f);
                    prop_assert_eq!(set.add(&m, s, f, limits), want);
                }
                Op::Remove(i) => {
                    let m = member(i);
                    let removed = z.as_mut().is_some_and(|set| set.remove(&m));
                    prop_assert_eq!(removed, model.remove(&m));
                }
                Op::RemoveRanks(a, b) => {
                    let expected = model.sorted();
                    let gone: Vec<Vec<u8>> = expected.iter().enumerate()
                        .filter(|(i, _)| (a..=b).contains(i)).map(|(_, (m, _))| m.clone()).collect();
                    let n = z.as_mut().map_or(0, |set| set.remove_rank_range(a, b));
                    prop_assert_eq!(n, gone.len());
                    gone.iter().for_each(|m| { model.remove(m); });
                }
                Op::RemoveScores(r) => {
                    let gone: Vec<Vec<u8>> = model.sorted().into_iter()
                        .filter(|(_, s)| r.gte_min(*s) && r.lte_max(*s)).map(|(m, _)| m).collect();
                    let n = z.as_mut().map_or(0, |set| set.remove_score_range(&r));
                    prop_assert_eq!(n, gone.len());
                    gone.iter().for_each(|m| { model.remove(m); });
                }
                Op::Pop(max) => {
                    let expected = model.sorted();
                    let want = if max { expected.last() } else { expected.first() }.cloned();
                    let got = z.as_mut().and_then(|set| set.pop(max));
                    prop_assert_eq!(&got, &want);
                    if let Some((m, _)) = want {
                        model.remove(&m);
                    }
                }
            }
            // An emptied set is deleted, as a command would.
            if z.as_ref().is_some_and(ZSet::is_empty) {
                z = None;
            }
            match &z {
                Some(set) => check_agrees(set, &model, &probe)?,
                None => prop_assert!(model.scores.is_empty()),
            }
        }
        // The encoding is the one the limits call for: a listpack never
        // holds more than the limits allow.
        if let Some(ZSet::Pack(lp)) = &z {
            prop_assert!(lp.len() <= max_entries);
            prop_assert!(lp.iter().all(|(m, _)| m.len() <= max_value));
        }
    }

    #[test]
    fn lex_ranges_agree_when_scores_are_equal(
        members in proptest::collection::btree_set(0usize..60, 0..40),
        a in 0usize..60,
        b in 0usize..60,
        kinds in (0u8..4, 0u8..4),
        max_entries in 0usize..50,
    ) {
        let limits = Limits { max_entries, max_value: 64 };
        let mut z = ZSet::new_for(b"", limits);
        let mut sorted: Vec<Vec<u8>> = Vec::new();
        for i in &members {
            let m = member(*i);
            if z.add(&m, 0.0, AddFlags::default(), limits) != AddOutcome::Unchanged(0.0) {
                sorted.push(m);
            }
        }
        sorted.sort();
        sorted.dedup();
        let bound = |kind: u8, i: usize| match kind {
            0 => (LexBound::Min, true),
            1 => (LexBound::Max, true),
            2 => (LexBound::Value(member(i)), true),
            _ => (LexBound::Value(member(i)), false),
        };
        let (min, min_exclusive) = bound(kinds.0, a);
        let (max, max_exclusive) = bound(kinds.1, b);
        let r = LexRange { min, max, min_exclusive, max_exclusive };
        let inside: Vec<usize> = (0..sorted.len())
            .filter(|&i| !r.is_empty() && r.gte_min(&sorted[i]) && r.lte_max(&sorted[i]))
            .collect();
        prop_assert_eq!(z.first_in_lex_range(&r), inside.first().copied());
        prop_assert_eq!(z.last_in_lex_range(&r), inside.last().copied());
        prop_assert_eq!(z.count_in_lex_range(&r), inside.len());
        let removed = z.remove_lex_range(&r);
        prop_assert_eq!(removed, inside.len());
        prop_assert_eq!(z.len(), sorted.len() - inside.len());
    }
}

#[test]
fn big_sets_stay_logarithmic() {
    // Not a benchmark: a guard that rank, range and pop do not walk the
    // list (a linear walk per operation would take minutes here).
    let limits = Limits::new(128, 64);
    let mut z = ZSet::new_for(b"m", limits);
    let n = 200_000;
    for i in 0..n {
        z.add(
            format!("m{i:07}").as_bytes(),
            (i % 1000) as f64,
            AddFlags::default(),
            limits,
        );
    }
    let start = std::time::Instant::now();
    for i in (0..n).step_by(7) {
        let m = format!("m{i:07}");
        let rank = z.rank(m.as_bytes()).expect("member");
        assert_eq!(
            z.iter_at(rank, false).next().map(|(x, _)| x),
            Some(m.as_bytes())
        );
    }
    for _ in 0..10_000 {
        z.pop(false);
    }
    assert_eq!(z.len(), n - 10_000);
    assert!(start.elapsed().as_secs() < 30);
}
