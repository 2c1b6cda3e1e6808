//! The group leader's division of connectors and tasks among the workers, incremental and
//! cooperative as Kafka Connect's KIP-415, and the JSON wire forms of the `sluice-1`
//! protocol: what a member sends in JoinGroup and receives in SyncGroup. Pure: no I/O.
//!
//! The file is one piece despite its length: the wire forms and the leader's rules are one protocol
//! (the rules decide what the forms must say), and half the file is the tests, which
//! simulate whole rebalances against both.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// The group protocol type Kafka Connect's workers join with.
pub const PROTOCOL_TYPE: &str = "connect";
/// Our protocol under that type; a change of the wire forms gets a new name, so a
/// mixed cluster fails to agree on a protocol instead of misreading bytes.
pub const PROTOCOL_NAME: &str = "sluice-1";

/// One task of one connector.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskId {
    pub connector: String,
    pub task: u32,
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Kafka Connect's own rendering, as the REST API and logs show it.
        write!(f, "{}-{}", self.connector, self.task)
    }
}

/// The connectors and tasks a member holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Owned {
    pub connectors: BTreeSet<String>,
    pub tasks: BTreeSet<TaskId>,
}

/// What a worker tells the group when it joins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberMetadata {
    /// The REST URL this worker advertises, so others can forward requests to the leader.
    pub url: String,
    /// The worker's `config.storage.topic`; members of one group must agree on it.
    pub config_topic: String,
    /// How far this worker has read the config topic.
    pub config_offset: i64,
    /// What the worker holds from its last assignment (empty after a restart).
    pub owned: Owned,
    /// Raised by a member that wants the group to rebalance. Some brokers
    /// (tansu) start a new generation only when a member's metadata
    /// changes, never for a rejoin alone, so asking takes a change.
    #[serde(default)]
    pub epoch: u64,
}

/// Why a member got no work from the leader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum AssignmentError {
    None,
    /// The member reads another config topic than the leader: it belongs to another
    /// cluster by mistake and must exit rather than run that cluster's work.
    ConfigMismatch {
        expected_topic: String,
    },
    /// A member has read further into the config topic than the leader, so the
    /// leader's view may miss connectors. Everyone gets this; the leader reads the
    /// config topic up to `member_offset` and the group rejoins.
    LeaderBehind {
        leader_offset: i64,
        member_offset: i64,
    },
}

impl fmt::Display for AssignmentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("no error"),
            Self::ConfigMismatch { expected_topic } => write!(
                f,
                "the group's leader reads its configuration from topic `{expected_topic}`: \
                 every worker of a group must set the same config.storage.topic"
            ),
            Self::LeaderBehind {
                leader_offset,
                member_offset,
            } => write!(
                f,
                "the group's leader had read the config topic to offset {leader_offset} but a \
                 member to {member_offset}; rejoining once the leader has caught up"
            ),
        }
    }
}

/// What the leader sends each member through SyncGroup.
///
/// `connectors` and `tasks` are the member's FULL holding after applying this
/// assignment, and `revoked_*` lists what it held and must stop (disjoint from the
/// full sets). A member stops the revoked work first, then starts whatever in the
/// full sets it does not run yet. Kafka Connect's incremental protocol sends only the
/// newly assigned and the revoked work, which a member must add to what it believes it
/// holds; full sets make applying an assignment idempotent and let a member that lost
/// track of its state (a missed SyncGroup) recover from one message. The explicit
/// revoked lists still say what to stop before anything moves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assignment {
    pub error: AssignmentError,
    /// The leader's member id.
    pub leader: String,
    /// The leader's advertised REST URL.
    pub leader_url: String,
    /// The members read the config topic up to at least this offset before starting work.
    pub config_offset: i64,
    pub connectors: BTreeSet<String>,
    pub tasks: BTreeSet<TaskId>,
    pub revoked_connectors: BTreeSet<String>,
    pub revoked_tasks: BTreeSet<TaskId>,
    /// When above 0, work of a departed member waits for it to come back: rejoin after
    /// this delay so the leader can reassign it then.
    pub delay_ms: u64,
}

impl Assignment {
    /// When the member must rejoin: at once after stopping revoked work (the leader
    /// hands that work out in the next round), after `delay_ms` when lost work is
    /// pending, otherwise only when the group asks.
    pub fn rejoin_after(&self) -> Option<Duration> {
        if !self.revoked_connectors.is_empty() || !self.revoked_tasks.is_empty() {
            Some(Duration::ZERO)
        } else if self.delay_ms > 0 {
            Some(Duration::from_millis(self.delay_ms))
        } else {
            None
        }
    }

    /// An assignment of no work, to which the leader adds what a member gets.
    fn empty(error: AssignmentError, leader: &str, leader_url: &str, config_offset: i64) -> Self {
        Self {
            error,
            leader: leader.to_owned(),
            leader_url: leader_url.to_owned(),
            config_offset,
            connectors: BTreeSet::new(),
            tasks: BTreeSet::new(),
            revoked_connectors: BTreeSet::new(),
            revoked_tasks: BTreeSet::new(),
            delay_ms: 0,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect(INFALLIBLE)
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        serde_json::from_slice(bytes).map_err(WireError::Assignment)
    }
}

/// Bytes of the `sluice-1` protocol that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("member metadata of protocol {PROTOCOL_NAME} is malformed: {0}")]
    Metadata(serde_json::Error),
    #[error("assignment of protocol {PROTOCOL_NAME} is malformed: {0}")]
    Assignment(serde_json::Error),
}

// Serializing these types cannot fail: every map key is a string and every value plain.
const INFALLIBLE: &str = "plain structs with string keys always serialize";

impl MemberMetadata {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect(INFALLIBLE)
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        serde_json::from_slice(bytes).map_err(WireError::Metadata)
    }
}

/// The work configured in the cluster, as the leader read it from the config topic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterWork {
    /// The leader's `config.storage.topic`.
    pub config_topic: String,
    /// How far the leader has read it.
    pub config_offset: i64,
    /// Each connector and its number of tasks (ids `0..n`, as Kafka Connect numbers them).
    pub connectors: BTreeMap<String, u32>,
}

impl ClusterWork {
    fn configured(&self) -> Owned {
        let tasks = self.connectors.iter().flat_map(|(name, &count)| {
            (0..count).map(|task| TaskId {
                connector: name.clone(),
                task,
            })
        });
        Owned {
            connectors: self.connectors.keys().cloned().collect(),
            tasks: tasks.collect(),
        }
    }
}

/// The leader's memory across rebalances. A newly elected leader starts empty, so work
/// of members that left before it was elected is handed out at once, as in Kafka Connect.
#[derive(Debug, Default)]
pub struct Assignor {
    /// Each member's full holding as last assigned.
    previous: BTreeMap<String, Owned>,
    /// Work of departed members still waiting for them, and until when.
    lost: Owned,
    lost_deadline: Option<Instant>,
}

impl Assignor {
    pub fn new() -> Self {
        Self::default()
    }

    /// What `member` holds as this leader last assigned it; `None` for a
    /// member this leader has not assigned (or before it led).
    pub fn holding(&self, member: &str) -> Option<&Owned> {
        self.previous.get(member)
    }

    /// Divides `config`'s work among `members` (which include the leader), one
    /// assignment per member id. `max_delay` is `scheduled.rebalance.max.delay.ms`:
    /// how long work of a departed member waits for it before moving elsewhere.
    pub fn assign(
        &mut self,
        members: &[(String, MemberMetadata)],
        leader_id: &str,
        config: &ClusterWork,
        now: Instant,
        max_delay: Duration,
    ) -> BTreeMap<String, Assignment> {
        let leader_url = members
            .iter()
            .find(|(id, _)| id == leader_id)
            .map_or("", |(_, m)| m.url.as_str());
        let offset = config.config_offset;
        let (ours, strangers): (Vec<_>, Vec<_>) = members
            .iter()
            .partition(|(_, m)| m.config_topic == config.config_topic);
        let mismatch = AssignmentError::ConfigMismatch {
            expected_topic: config.config_topic.clone(),
        };
        let mut out: BTreeMap<String, Assignment> = strangers
            .iter()
            .map(|(id, _)| {
                let failed = Assignment::empty(mismatch.clone(), leader_id, leader_url, offset);
                (id.clone(), failed)
            })
            .collect();
        let newest = ours.iter().map(|(_, m)| m.config_offset).max();
        if let Some(member_offset) = newest.filter(|&newest| newest > offset) {
            // Assigning from a stale view could start deleted connectors or miss new
            // ones; Kafka Connect answers the whole group likewise and keeps no state.
            let error = AssignmentError::LeaderBehind {
                leader_offset: offset,
                member_offset,
            };
            for (id, _) in &ours {
                let failed = Assignment::empty(error.clone(), leader_id, leader_url, member_offset);
                out.insert(id.clone(), failed);
            }
            return out;
        }
        if ours.is_empty() {
            return out;
        }

        let configured = config.configured();
        let owned_c = by_member(ours.iter().map(|(id, m)| (id, &m.owned)), |o| &o.connectors);
        let owned_t = by_member(ours.iter().map(|(id, m)| (id, &m.owned)), |o| &o.tasks);
        let prev_c = by_member(self.previous.iter(), |o| &o.connectors);
        let prev_t = by_member(self.previous.iter(), |o| &o.tasks);
        let mut connectors = Ledger::new(&owned_c, &configured.connectors, &prev_c);
        let mut tasks = Ledger::new(&owned_t, &configured.tasks, &prev_t);
        let mut lost_c = connectors.lost(&prev_c, &self.lost.connectors, &configured.connectors);
        let mut lost_t = tasks.lost(&prev_t, &self.lost.tasks, &configured.tasks);
        let free_c = connectors.unheld(&configured.connectors, &lost_c);
        let free_t = tasks.unheld(&configured.tasks, &lost_t);
        let allow_c = connectors.allowances(configured.connectors.len());
        let allow_t = tasks.allowances(configured.tasks.len());

        // Kafka Connect's type for the delay is an int of milliseconds; clamping keeps
        // `now + max_delay` from overflowing.
        let max_delay = max_delay.min(Duration::from_millis(i32::MAX as u64));
        let has_lost = !lost_c.is_empty() || !lost_t.is_empty();
        let deadline = has_lost.then(|| *self.lost_deadline.get_or_insert(now + max_delay));
        if deadline.is_some_and(|deadline| now < deadline) {
            // Waiting gains nothing for members holding nothing (a departed worker
            // comes back under a new member id, empty), so they take lost work at once.
            let idle: BTreeSet<String> = connectors
                .keep
                .iter()
                .filter(|(id, held)| held.is_empty() && tasks.keep[*id].is_empty())
                .map(|(id, _)| id.clone())
                .collect();
            lost_c = connectors.place(lost_c, &allow_c, Some(&idle));
            lost_t = tasks.place(lost_t, &allow_t, Some(&idle));
        }
        let waiting = deadline.filter(|&d| now < d && !(lost_c.is_empty() && lost_t.is_empty()));
        if waiting.is_none() {
            // Balancing waits while lost work is pending, as where that work lands
            // decides what balance needs (Kafka Connect likewise skips revocations then).
            connectors.revoke_excess(&allow_c);
            tasks.revoke_excess(&allow_t);
            connectors.place(&free_c | &lost_c, &allow_c, None);
            tasks.place(&free_t | &lost_t, &allow_t, None);
            self.lost = Owned::default();
            self.lost_deadline = None;
        } else {
            connectors.place(free_c, &allow_c, None);
            tasks.place(free_t, &allow_t, None);
            self.lost = Owned {
                connectors: lost_c,
                tasks: lost_t,
            };
        }
        let delay_ms = waiting.map_or(0, |deadline| {
            let left = deadline.saturating_duration_since(now).as_millis();
            u64::try_from(left).unwrap_or(u64::MAX).max(1)
        });

        self.previous.clear();
        for (id, _) in &ours {
            let (held_c, held_t) = (connectors.keep[id].clone(), tasks.keep[id].clone());
            let held = Owned {
                connectors: held_c.clone(),
                tasks: held_t.clone(),
            };
            self.previous.insert(id.clone(), held);
            let assignment = Assignment {
                connectors: held_c,
                tasks: held_t,
                revoked_connectors: connectors.revoke.remove(id).unwrap_or_default(),
                revoked_tasks: tasks.revoke.remove(id).unwrap_or_default(),
                delay_ms,
                ..Assignment::empty(AssignmentError::None, leader_id, leader_url, offset)
            };
            out.insert(id.clone(), assignment);
        }
        out
    }
}

type PerMember<T> = BTreeMap<String, BTreeSet<T>>;

fn by_member<'a, T: Clone + 'a>(
    members: impl Iterator<Item = (&'a String, &'a Owned)>,
    kind: fn(&Owned) -> &BTreeSet<T>,
) -> PerMember<T> {
    members
        .map(|(id, owned)| (id.clone(), kind(owned).clone()))
        .collect()
}

/// Connectors and tasks are balanced separately, by the same rules.
trait Work: Ord + Clone {
    /// Work of one group is spread over members where possible: a connector's tasks.
    fn group(&self) -> &str;
}

impl Work for String {
    fn group(&self) -> &str {
        self
    }
}

impl Work for TaskId {
    fn group(&self) -> &str {
        &self.connector
    }
}

/// One kind of work in the round being planned.
struct Ledger<T> {
    /// Each member's full holding after this round (every member has an entry).
    keep: PerMember<T>,
    revoke: PerMember<T>,
}

impl<T: Work> Ledger<T> {
    /// Starts from what members hold: work no longer configured is revoked, and work
    /// held by several members stays with one: the one the last assignment gave it to,
    /// else the first by member id. (Kafka Connect revokes it from all of them and
    /// reassigns it a round later; keeping one copy stops less.)
    fn new(owned: &PerMember<T>, configured: &BTreeSet<T>, previous: &PerMember<T>) -> Self {
        let was_given = |id: &str, item: &T| previous.get(id).is_some_and(|p| p.contains(item));
        let mut holder: BTreeMap<&T, &str> = BTreeMap::new();
        for (id, items) in owned {
            for item in items.iter().filter(|item| configured.contains(*item)) {
                match holder.entry(item) {
                    Entry::Vacant(e) => {
                        e.insert(id);
                    }
                    Entry::Occupied(mut e) => {
                        if was_given(id, item) && !was_given(e.get(), item) {
                            e.insert(id);
                        }
                    }
                }
            }
        }
        let (mut keep, mut revoke) = (PerMember::new(), PerMember::new());
        for (id, items) in owned {
            let (kept, dropped): (BTreeSet<T>, BTreeSet<T>) = items
                .iter()
                .cloned()
                .partition(|item| holder.get(item) == Some(&id.as_str()));
            keep.insert(id.clone(), kept);
            if !dropped.is_empty() {
                revoke.insert(id.clone(), dropped);
            }
        }
        Self { keep, revoke }
    }

    fn held(&self) -> BTreeSet<&T> {
        self.keep.values().flatten().collect()
    }

    /// Work the last assignment gave to members now gone (or still waiting for them
    /// from earlier rounds) that nobody holds. Work of a member still present that it
    /// does not hold (it missed its assignment) is not lost: it is handed out at once.
    fn lost(
        &self,
        previous: &PerMember<T>,
        pending: &BTreeSet<T>,
        configured: &BTreeSet<T>,
    ) -> BTreeSet<T> {
        let held = self.held();
        let departed = previous
            .iter()
            .filter(|(id, _)| !self.keep.contains_key(*id));
        departed
            .flat_map(|(_, items)| items)
            .chain(pending)
            .filter(|item| configured.contains(*item) && !held.contains(item))
            .cloned()
            .collect()
    }

    /// Configured work nobody holds and that waits for nobody.
    fn unheld(&self, configured: &BTreeSet<T>, lost: &BTreeSet<T>) -> BTreeSet<T> {
        let held = self.held();
        let waiting = |item: &&T| held.contains(item) || lost.contains(*item);
        configured
            .iter()
            .filter(|item| !waiting(item))
            .cloned()
            .collect()
    }

    /// How much each member may hold: `total / members`, one more for `total % members`
    /// of them. The extras go to the most loaded members, so the least work moves.
    fn allowances(&self, total: usize) -> BTreeMap<String, usize> {
        let (floor, extra) = (total / self.keep.len(), total % self.keep.len());
        let mut order: Vec<_> = self
            .keep
            .iter()
            .map(|(id, held)| (held.len(), id))
            .collect();
        order.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
        let allowance = |rank: usize| floor + usize::from(rank < extra);
        order
            .into_iter()
            .enumerate()
            .map(|(rank, (_, id))| (id.clone(), allowance(rank)))
            .collect()
    }

    /// Revokes what members hold beyond their allowance, nothing else; the next round
    /// hands it out. It takes from the connector the member runs most tasks of, so
    /// what stays is spread.
    fn revoke_excess(&mut self, allow: &BTreeMap<String, usize>) {
        for (id, held) in &mut self.keep {
            while held.len() > allow[id] {
                let same = |item: &T| held.iter().filter(|h| h.group() == item.group()).count();
                let Some(item) = held.iter().max_by_key(|item| (same(item), *item)).cloned() else {
                    break;
                };
                held.remove(&item);
                self.revoke.entry(id.clone()).or_default().insert(item);
            }
        }
    }

    /// Gives each item to the least loaded member below its allowance (then the one
    /// running fewest of its connector's tasks, then by member id), among `only` when
    /// given. Without `only`, an item nobody has room for goes to the least loaded
    /// member anyway (new work is not kept stopped while balancing waits); with it, the
    /// item is returned.
    fn place(
        &mut self,
        items: BTreeSet<T>,
        allow: &BTreeMap<String, usize>,
        only: Option<&BTreeSet<String>>,
    ) -> BTreeSet<T> {
        let mut unplaced = BTreeSet::new();
        for item in items {
            let rank = |id: &String| {
                let held = &self.keep[id];
                let same = held.iter().filter(|h| h.group() == item.group()).count();
                (held.len() >= allow[id], held.len(), same, id.clone())
            };
            let eligible = |id: &&String| only.is_none_or(|only| only.contains(*id));
            let best = self.keep.keys().filter(eligible).min_by_key(|id| rank(id));
            let chosen = best.filter(|id| only.is_none() || self.keep[*id].len() < allow[*id]);
            match chosen.cloned() {
                Some(id) => self.keep.entry(id).or_default().insert(item),
                None => unplaced.insert(item),
            };
        }
        unplaced
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOPIC: &str = "connect-configs";
    const DELAY: Duration = Duration::from_secs(10);

    fn task(connector: &str, task: u32) -> TaskId {
        TaskId {
            connector: connector.to_owned(),
            task,
        }
    }

    /// A group of workers that apply what the leader assigns, one rebalance at a time.
    struct Sim {
        assignor: Assignor,
        members: BTreeMap<String, MemberMetadata>,
        config: ClusterWork,
        now: Instant,
        max_delay: Duration,
        last: BTreeMap<String, Assignment>,
        leader: String,
    }

    impl Sim {
        fn new(members: usize, connectors: &[(&str, u32)], max_delay: Duration) -> Self {
            let mut sim = Sim {
                assignor: Assignor::new(),
                members: BTreeMap::new(),
                config: ClusterWork {
                    config_topic: TOPIC.to_owned(),
                    config_offset: 10,
                    connectors: connectors
                        .iter()
                        .map(|(n, t)| (n.to_string(), *t))
                        .collect(),
                },
                now: Instant::now(),
                max_delay,
                last: BTreeMap::new(),
                leader: String::new(),
            };
            for i in 1..=members {
                sim.join(&format!("m{i}"));
            }
            sim
        }

        fn join(&mut self, id: &str) {
            let metadata = MemberMetadata {
                url: format!("http://{id}:8083"),
                config_topic: TOPIC.to_owned(),
                config_offset: 0,
                owned: Owned::default(),
                epoch: 0,
            };
            self.members.insert(id.to_owned(), metadata);
        }

        fn owned(&self, id: &str) -> Owned {
            self.members[id].owned.clone()
        }

        fn holdings(&self) -> BTreeMap<String, Owned> {
            self.members
                .iter()
                .map(|(id, m)| (id.clone(), m.owned.clone()))
                .collect()
        }

        /// The leader's answer to the group as it is, not applied.
        fn assign_once(&mut self) -> BTreeMap<String, Assignment> {
            let list: Vec<_> = self.members.clone().into_iter().collect();
            self.assignor
                .assign(&list, "m1", &self.config, self.now, DELAY)
        }

        /// One rebalance: checks the assignments, then applies them. Returns whether
        /// any member's holding changed.
        fn round(&mut self) -> bool {
            let list: Vec<_> = self.members.clone().into_iter().collect();
            let leader = list[0].0.clone();
            if leader != self.leader {
                // A newly elected leader starts without the old one's memory.
                (self.assignor, self.leader) = (Assignor::new(), leader.clone());
            }
            let out = self
                .assignor
                .assign(&list, &leader, &self.config, self.now, self.max_delay);
            assert!(
                out.keys().eq(self.members.keys()),
                "one assignment per member"
            );
            let (mut connectors, mut tasks) = (BTreeSet::new(), BTreeSet::new());
            let mut changed = false;
            for (id, a) in &out {
                assert_eq!(a.error, AssignmentError::None);
                assert_eq!(
                    (a.leader.as_str(), a.config_offset),
                    (leader.as_str(), self.config.config_offset)
                );
                let member = self.members.get_mut(id).unwrap();
                let held = &member.owned;
                // Only revoked work stops: what a member held and keeps is never revoked.
                assert!(a.revoked_connectors.is_subset(&held.connectors));
                assert!(a.revoked_tasks.is_subset(&held.tasks));
                assert!(
                    held.connectors
                        .difference(&a.revoked_connectors)
                        .all(|c| a.connectors.contains(c))
                );
                assert!(
                    held.tasks
                        .difference(&a.revoked_tasks)
                        .all(|t| a.tasks.contains(t))
                );
                // Once revocations are applied, no work is held by two members.
                assert!(
                    a.connectors.iter().all(|c| connectors.insert(c.clone())),
                    "{c:?}",
                    c = a.connectors
                );
                assert!(
                    a.tasks.iter().all(|t| tasks.insert(t.clone())),
                    "{t:?}",
                    t = a.tasks
                );
                let new = Owned {
                    connectors: a.connectors.clone(),
                    tasks: a.tasks.clone(),
                };
                changed |= new != member.owned;
                member.owned = new;
                member.config_offset = a.config_offset;
            }
            self.last = out;
            changed
        }

        fn delay(&self) -> u64 {
            self.last.values().map(|a| a.delay_ms).max().unwrap_or(0)
        }

        /// Rebalances until nothing changes, rejoining after any delay as members do.
        /// Returns how many rounds changed something.
        fn settle(&mut self) -> usize {
            let mut changes = 0;
            for _ in 0..20 {
                let changed = self.round();
                changes += usize::from(changed);
                if self.delay() > 0 {
                    self.now += Duration::from_millis(self.delay());
                } else if !changed {
                    self.check_balanced();
                    return changes;
                }
            }
            panic!("no convergence in 20 rounds: {:?}", self.last);
        }

        fn check_balanced(&self) {
            let configured = self.config.configured();
            let held = |f: fn(&Owned) -> usize| self.members.values().map(move |m| f(&m.owned));
            assert_eq!(
                held(|o| o.tasks.len()).sum::<usize>(),
                configured.tasks.len()
            );
            assert_eq!(
                held(|o| o.connectors.len()).sum::<usize>(),
                configured.connectors.len()
            );
            let n = self.members.len();
            let ceil = |total: usize| total.div_ceil(n);
            assert!(
                held(|o| o.tasks.len()).all(|t| t <= ceil(configured.tasks.len())),
                "{:?}",
                self.members
            );
            assert!(held(|o| o.connectors.len()).all(|c| c <= ceil(configured.connectors.len())));
        }
    }

    fn four_by_two() -> Sim {
        Sim::new(3, &[("a", 2), ("b", 2), ("c", 2), ("d", 2)], DELAY)
    }

    #[test]
    fn three_members_share_four_connectors_evenly() {
        let mut sim = four_by_two();
        assert_eq!(sim.settle(), 1);
        for id in ["m1", "m2", "m3"] {
            let owned = sim.owned(id);
            assert!(
                owned.tasks.len() <= 3 && owned.connectors.len() <= 2,
                "{owned:?}"
            );
            // Two tasks of one connector never share a member when three are available.
            let groups: BTreeSet<_> = owned.tasks.iter().map(|t| &t.connector).collect();
            assert_eq!(groups.len(), owned.tasks.len(), "{owned:?}");
        }
    }

    #[test]
    fn a_joining_member_moves_only_the_excess() {
        let mut sim = four_by_two();
        sim.settle();
        let before = sim.holdings();
        sim.join("m4");
        assert!(sim.round());
        let revoked: usize = sim.last.values().map(|a| a.revoked_tasks.len()).sum();
        assert_eq!(
            revoked, 2,
            "8 tasks over 4 members: two of the three-task members give one"
        );
        assert_eq!(sim.settle(), 1, "the revoked work lands in the next round");
        for (id, old) in &before {
            let now = sim.owned(id);
            assert!(now.tasks.is_subset(&old.tasks) && now.connectors.is_subset(&old.connectors));
        }
        assert_eq!(sim.owned("m4").tasks.len(), 2);
        assert_eq!(sim.owned("m4").connectors.len(), 1);
    }

    #[test]
    fn lost_work_waits_for_the_delay_then_moves_alone() {
        let mut sim = four_by_two();
        sim.settle();
        let gone = sim.members.remove("m3").unwrap().owned;
        let before = sim.holdings();
        assert!(
            !sim.round(),
            "nothing moves while the departed member may come back"
        );
        assert_eq!(sim.delay(), DELAY.as_millis() as u64);
        sim.now += DELAY / 2;
        assert!(!sim.round());
        assert_eq!(sim.delay(), (DELAY / 2).as_millis() as u64);
        sim.now += DELAY / 2;
        assert!(sim.round());
        assert_eq!(sim.delay(), 0);
        sim.check_balanced();
        for (id, old) in &before {
            let now = sim.owned(id);
            let gained: BTreeSet<_> = now.tasks.difference(&old.tasks).cloned().collect();
            assert!(old.tasks.is_subset(&now.tasks) && gained.is_subset(&gone.tasks));
            assert!(old.connectors.is_subset(&now.connectors));
        }
    }

    #[test]
    fn lost_work_goes_at_once_to_an_empty_newcomer() {
        let mut sim = four_by_two();
        sim.settle();
        let gone = sim.members.remove("m3").unwrap().owned;
        sim.join("m4");
        assert!(sim.round());
        assert_eq!(sim.delay(), 0);
        assert_eq!(sim.owned("m4"), gone);
        assert_eq!(sim.settle(), 0);
    }

    #[test]
    fn no_delay_reassigns_lost_work_at_once() {
        let mut sim = Sim::new(3, &[("a", 2), ("b", 2), ("c", 2), ("d", 2)], Duration::ZERO);
        sim.settle();
        sim.members.remove("m2");
        assert!(sim.round());
        assert_eq!(sim.delay(), 0);
        sim.check_balanced();
    }

    #[test]
    fn deleted_connectors_are_revoked() {
        let mut sim = four_by_two();
        sim.settle();
        sim.config.connectors.remove("b");
        sim.config.config_offset += 1;
        sim.round();
        let revoked: BTreeSet<_> = sim
            .last
            .values()
            .flat_map(|a| a.revoked_tasks.iter().cloned())
            .collect();
        // Besides b's tasks, balance may take one from a member left with three of six.
        assert!(revoked.is_superset(&BTreeSet::from([task("b", 0), task("b", 1)])));
        assert!(
            sim.last
                .values()
                .any(|a| a.revoked_connectors.contains("b"))
        );
        assert!(
            sim.members
                .values()
                .all(|m| !m.owned.connectors.contains("b"))
        );
        sim.settle();
    }

    #[test]
    fn a_member_of_another_config_topic_gets_only_an_error() {
        let mut sim = four_by_two();
        sim.members.get_mut("m2").unwrap().config_topic = "other-configs".to_owned();
        let out = sim.assign_once();
        let expected = AssignmentError::ConfigMismatch {
            expected_topic: TOPIC.to_owned(),
        };
        assert_eq!(out["m2"].error, expected);
        assert!(out["m2"].tasks.is_empty() && out["m2"].connectors.is_empty());
        assert!(expected.to_string().contains("config.storage.topic"));
        assert_eq!(out["m1"].tasks.len() + out["m3"].tasks.len(), 8);
        assert_eq!(out["m2"].leader_url, "http://m1:8083");
    }

    #[test]
    fn a_leader_behind_a_member_assigns_nothing() {
        let mut sim = four_by_two();
        sim.members.get_mut("m3").unwrap().config_offset = 12;
        let out = sim.assign_once();
        let expected = AssignmentError::LeaderBehind {
            leader_offset: 10,
            member_offset: 12,
        };
        assert!(
            out.values()
                .all(|a| a.error == expected && a.tasks.is_empty())
        );
        assert!(out.values().all(|a| a.config_offset == 12));
    }

    #[test]
    fn work_held_twice_stays_with_one_member() {
        let mut sim = Sim::new(3, &[("a", 2)], DELAY);
        for id in ["m1", "m2"] {
            let owned = &mut sim.members.get_mut(id).unwrap().owned;
            owned.connectors.insert("a".to_owned());
            owned.tasks.insert(task("a", 0));
        }
        sim.round();
        assert!(sim.last["m1"].revoked_tasks.is_empty());
        assert_eq!(sim.last["m2"].revoked_tasks, BTreeSet::from([task("a", 0)]));
        assert_eq!(
            sim.last["m2"].revoked_connectors,
            BTreeSet::from(["a".to_owned()])
        );
        assert!(sim.owned("m1").tasks.contains(&task("a", 0)));
        sim.settle();
    }

    #[test]
    fn wire_forms_round_trip() {
        let metadata = MemberMetadata {
            url: "http://w1:8083".to_owned(),
            config_topic: TOPIC.to_owned(),
            config_offset: 42,
            owned: Owned {
                connectors: BTreeSet::from(["a".to_owned()]),
                tasks: BTreeSet::from([task("a", 0), task("b", 3)]),
            },
            epoch: 7,
        };
        assert_eq!(
            MemberMetadata::decode(&metadata.encode()).unwrap(),
            metadata
        );
        let mut sim = four_by_two();
        sim.round();
        let mut assignment = sim.last["m1"].clone();
        assignment.revoked_tasks.insert(task("z", 1));
        assignment.delay_ms = 5;
        assert_eq!(
            Assignment::decode(&assignment.encode()).unwrap(),
            assignment
        );
        assignment.error = AssignmentError::ConfigMismatch {
            expected_topic: TOPIC.to_owned(),
        };
        assert_eq!(
            Assignment::decode(&assignment.encode()).unwrap(),
            assignment
        );
    }

    #[test]
    fn malformed_bytes_say_what_is_wrong() {
        let garbage = MemberMetadata::decode(b"\x00\x01").unwrap_err().to_string();
        assert!(
            garbage.starts_with("member metadata of protocol sluice-1 is malformed"),
            "{garbage}"
        );
        let missing =
            br#"{"config_topic":"t","config_offset":1,"owned":{"connectors":[],"tasks":[]}}"#;
        let missing = MemberMetadata::decode(missing).unwrap_err().to_string();
        assert!(missing.contains("missing field `url`"), "{missing}");
        let wrong = Assignment::decode(br#"{"error":"on_fire"}"#)
            .unwrap_err()
            .to_string();
        assert!(
            wrong.starts_with("assignment of protocol sluice-1") && wrong.contains("on_fire"),
            "{wrong}"
        );
    }

    /// Random joins, departures (the leader's too) and config changes: the
    /// checks of `Sim::round` hold in every round, and `Sim::settle` checks balance.
    #[test]
    fn random_membership_keeps_the_invariants() {
        let mut state: u64 = 0x5eed;
        let mut next = |bound: u64| {
            // Knuth's MMIX LCG; the high bits are the random ones.
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % bound
        };
        for sequence in 0..40 {
            let delay = Duration::from_millis([0, 500, 3000][sequence % 3]);
            let mut sim = Sim::new(1 + next(4) as usize, &[("a", 3), ("b", 1)], delay);
            let mut serial = 100;
            for _ in 0..40 {
                match next(8) {
                    0 | 1 => {
                        serial += 1;
                        sim.join(&format!("m{serial}"));
                    }
                    2 | 3 if sim.members.len() > 1 => {
                        let victim = sim
                            .members
                            .keys()
                            .nth(next(sim.members.len() as u64) as usize)
                            .cloned()
                            .unwrap();
                        sim.members.remove(&victim);
                    }
                    4 => {
                        let name = format!("c{}", next(6));
                        sim.config.connectors.insert(name, next(5) as u32);
                        sim.config.config_offset += 1;
                    }
                    5 => {
                        let name = format!("c{}", next(6));
                        sim.config.connectors.remove(&name);
                        sim.config.config_offset += 1;
                    }
                    6 => sim.now += Duration::from_millis(next(2000)),
                    _ => {
                        sim.settle();
                        continue;
                    }
                }
                sim.round();
            }
            sim.settle();
        }
    }
}
