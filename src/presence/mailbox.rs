//! A session's bounded message queue.
//!
//! Messages get increasing ids (the SSE `id:`). When a snapshot of the subscribed user
//! statuses is due (after a subscription, an overflow, or a resumption that cannot be served),
//! a slot with its own id takes its place in the queue and readers stop before it until it is
//! filled, so a snapshot never overtakes a later change. On overflow, pending user-status
//! deltas are dropped in favour of that snapshot: a client sees a full state, never a gap.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use super::render;

/// Most deltas sent as one message.
const MAX_MERGED: usize = 64;

/// Delivered messages kept for `Last-Event-ID` resumption.
const RETAINED: usize = 256;

/// What a queued message is, for the overflow rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A user-status delta of this user: replaceable by a snapshot, and sent together with
    /// the deltas of other users queued right after it.
    UserStatus(i64),
    /// Anything else: kept.
    Other,
}

#[derive(Debug, Clone)]
enum Entry {
    Message(Kind, Arc<str>),
    /// A snapshot being built by whoever reserved it.
    Reserved,
    /// A snapshot a reader must build.
    Requested,
}

#[derive(Debug, Default)]
struct Inner {
    next_id: u64,
    pending: VecDeque<(u64, Entry)>,
    delivered: VecDeque<(u64, Arc<str>)>,
    closed: bool,
}

impl Inner {
    /// The next id: one more than the last, and at least `floor` (see [`Mailbox::new`]).
    fn allocate(&mut self, floor: u64) -> u64 {
        self.next_id = (self.next_id + 1).max(floor);
        self.next_id
    }

    fn has_snapshot_slot(&self) -> bool {
        self.pending.iter().any(|(_, e)| !matches!(e, Entry::Message(..)))
    }

    /// A snapshot will be read later than any change published now: deltas can be dropped.
    fn has_requested_slot(&self) -> bool {
        self.pending.iter().any(|(_, e)| matches!(e, Entry::Requested))
    }

    /// Replaces pending deltas by one requested snapshot at the place of the first (unless
    /// one is already requested: it will be read later than all of them).
    fn collapse(&mut self) {
        if !self.pending.iter().any(|(_, e)| matches!(e, Entry::Message(Kind::UserStatus(_), _))) {
            return;
        }
        let mut placed = self.has_requested_slot();
        let mut kept = VecDeque::with_capacity(self.pending.len());
        for (id, entry) in self.pending.drain(..) {
            match entry {
                Entry::Message(Kind::UserStatus(_), _) if placed => {}
                Entry::Message(Kind::UserStatus(_), _) => {
                    kept.push_back((id, Entry::Requested));
                    placed = true;
                }
                other => kept.push_back((id, other)),
            }
        }
        self.pending = kept;
    }

    /// A delta taken from the queue, with the deltas of other users queued right after it, as
    /// one message under the last one's id: a backlog goes out in fewer, larger messages, and
    /// each user's changes stay in order (a user seen twice ends the run).
    fn take_deltas(&mut self, id: u64, user: i64, message: Arc<str>) -> Vec<(u64, Arc<str>)> {
        let mut run = vec![(id, user, message)];
        while run.len() < MAX_MERGED {
            match self.pending.front() {
                Some((next, Entry::Message(Kind::UserStatus(other), delta)))
                    if !run.iter().any(|(_, u, _)| u == other) =>
                {
                    let item = (*next, *other, delta.clone());
                    self.pending.pop_front();
                    run.push(item);
                }
                _ => break,
            }
        }
        if run.len() > 1 {
            let texts: Vec<&str> = run.iter().map(|(_, _, m)| &**m).collect();
            if let (Some(merged), Some((last, _, _))) = (render::merge_deltas(&texts), run.last()) {
                return vec![(*last, merged.into())];
            }
        }
        run.into_iter().map(|(id, _, m)| (id, m)).collect()
    }

    /// Drops the oldest queued message (never a snapshot slot) to make room.
    fn evict_oldest(&mut self) {
        if let Some(index) = self.pending.iter().position(|(_, e)| matches!(e, Entry::Message(..))) {
            self.pending.remove(index);
        }
    }
}

/// What a reader took from the mailbox.
#[derive(Debug, Default)]
pub struct Batch {
    pub messages: Vec<(u64, Arc<str>)>,
    /// A snapshot is due at this slot: build it and [`Mailbox::fill`] it.
    pub snapshot_slot: Option<u64>,
    pub closed: bool,
}

/// A session's queue: bounded, ordered, with snapshot slots.
#[derive(Debug)]
pub struct Mailbox {
    inner: Mutex<Inner>,
    notify: Notify,
    limit: usize,
    /// The least id the next message may get. Instances that apply one event log set it from
    /// the number of the event being applied, so one message has one id on every instance.
    floor: Arc<AtomicU64>,
}

impl Mailbox {
    pub fn new(limit: usize, floor: Arc<AtomicU64>) -> Self {
        Self { inner: Mutex::default(), notify: Notify::new(), limit: limit.max(1), floor }
    }

    fn floor(&self) -> u64 {
        self.floor.load(Ordering::Relaxed)
    }

    /// Asks for a full snapshot in place of the pending user-status deltas.
    pub fn request_snapshot(&self) {
        let mut inner = self.lock();
        inner.pending.retain(|(_, e)| !matches!(e, Entry::Message(Kind::UserStatus(_), _)));
        if !inner.has_requested_slot() {
            let id = inner.allocate(self.floor());
            inner.pending.push_back((id, Entry::Requested));
        }
        drop(inner);
        self.notify.notify_waiters();
    }

    /// Forgets what another instance already handed to the client: messages and snapshot slots
    /// up to id `upto` move to the delivered list (for resumption) or go.
    pub fn discard_through(&self, upto: u64) {
        let mut inner = self.lock();
        while inner.pending.front().is_some_and(|(id, _)| *id <= upto) {
            if let Some((id, Entry::Message(_, message))) = inner.pending.pop_front() {
                inner.delivered.push_back((id, message));
                if inner.delivered.len() > RETAINED {
                    inner.delivered.pop_front();
                }
            }
        }
        inner.next_id = inner.next_id.max(upto);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a message.
    pub fn push(&self, kind: Kind, message: Arc<str>) {
        let mut inner = self.lock();
        if inner.closed || (matches!(kind, Kind::UserStatus(_)) && inner.has_requested_slot()) {
            return;
        }
        if inner.pending.len() >= self.limit {
            inner.collapse();
            if matches!(kind, Kind::UserStatus(_)) {
                // The change is covered by a snapshot read later than it.
                if !inner.has_requested_slot() {
                    if inner.pending.len() >= self.limit {
                        inner.evict_oldest();
                    }
                    let id = inner.allocate(self.floor());
                    inner.pending.push_back((id, Entry::Requested));
                }
                drop(inner);
                self.notify.notify_waiters();
                return;
            }
            if inner.pending.len() >= self.limit {
                inner.evict_oldest();
            }
        }
        let id = inner.allocate(self.floor());
        inner.pending.push_back((id, Entry::Message(kind, message)));
        drop(inner);
        self.notify.notify_waiters();
    }

    /// Reserves the place of a snapshot that the caller builds and then [`fill`](Self::fill)s.
    pub fn reserve_snapshot(&self) -> u64 {
        let mut inner = self.lock();
        let id = inner.allocate(self.floor());
        inner.pending.push_back((id, Entry::Reserved));
        id
    }

    /// Puts the snapshot in its slot (or removes the slot when `message` is `None`).
    pub fn fill(&self, slot: u64, message: Option<Arc<str>>) {
        let mut inner = self.lock();
        if let Some(index) = inner.pending.iter().position(|(id, _)| *id == slot) {
            match message {
                Some(message) => inner.pending[index].1 = Entry::Message(Kind::Other, message),
                None => {
                    inner.pending.remove(index);
                }
            }
        }
        drop(inner);
        self.notify.notify_waiters();
    }

    /// Takes the messages ready for delivery, stopping before an unfilled snapshot slot.
    /// `resume_after` (an SSE `Last-Event-ID`) first replays held messages after that id.
    pub fn take(&self, resume_after: Option<u64>) -> Batch {
        let mut inner = self.lock();
        let mut batch = Batch { closed: inner.closed, ..Batch::default() };
        if let Some(last) = resume_after {
            let held = inner.delivered.front().zip(inner.delivered.back()).map(|(o, n)| (o.0, n.0));
            let served = last == 0 || held.is_some_and(|(oldest, newest)| last + 1 >= oldest && last <= newest);
            if served {
                batch.messages.extend(inner.delivered.iter().filter(|(id, _)| *id > last).cloned());
            } else {
                // Too old to replay: the client's state is unknown, send it a full one.
                inner.pending.retain(|(_, e)| !matches!(e, Entry::Message(Kind::UserStatus(_), _)));
                if !inner.has_snapshot_slot() {
                    let id = inner.allocate(self.floor());
                    inner.pending.push_back((id, Entry::Requested));
                }
            }
        }
        while let Some((id, entry)) = inner.pending.front() {
            let id = *id;
            match entry {
                Entry::Message(kind, message) => {
                    let (kind, message) = (*kind, message.clone());
                    inner.pending.pop_front();
                    let out = match kind {
                        Kind::UserStatus(user) => inner.take_deltas(id, user, message),
                        Kind::Other => vec![(id, message)],
                    };
                    for (id, message) in out {
                        inner.delivered.push_back((id, message.clone()));
                        if inner.delivered.len() > RETAINED {
                            inner.delivered.pop_front();
                        }
                        batch.messages.push((id, message));
                    }
                }
                Entry::Requested => {
                    inner.pending[0].1 = Entry::Reserved;
                    batch.snapshot_slot = Some(id);
                    break;
                }
                Entry::Reserved => break,
            }
        }
        batch
    }

    /// Waits until something is pushed, filled or closed.
    pub async fn changed(&self) {
        self.notify.notified().await;
    }

    /// A future that completes on the next change; create it before checking, then await it.
    pub fn notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.notify.notified()
    }

    /// Queues a last message and refuses any further one.
    pub fn close(&self, last: Option<Arc<str>>) {
        if let Some(message) = last {
            self.push(Kind::Other, message);
        }
        self.lock().closed = true;
        self.notify.notify_waiters();
    }

    pub fn pending_len(&self) -> usize {
        self.lock().pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(batch: &Batch) -> Vec<&str> {
        batch.messages.iter().map(|(_, m)| &**m).collect()
    }

    #[test]
    fn messages_come_out_in_order_with_increasing_ids() {
        let mailbox = Mailbox::new(10, Arc::default());
        mailbox.push(Kind::UserStatus(1), "a".into());
        mailbox.push(Kind::Other, "b".into());
        let batch = mailbox.take(None);
        assert_eq!(text(&batch), ["a", "b"]);
        assert!(batch.messages[0].0 < batch.messages[1].0);
        assert!(mailbox.take(None).messages.is_empty(), "drained");
    }

    #[test]
    fn a_reserved_snapshot_holds_back_later_messages_until_filled() {
        let mailbox = Mailbox::new(10, Arc::default());
        mailbox.push(Kind::UserStatus(1), "before".into());
        let slot = mailbox.reserve_snapshot();
        mailbox.push(Kind::UserStatus(1), "after".into());
        assert_eq!(text(&mailbox.take(None)), ["before"]);
        mailbox.fill(slot, Some("snapshot".into()));
        assert_eq!(text(&mailbox.take(None)), ["snapshot", "after"]);
    }

    #[test]
    fn overflow_replaces_deltas_with_a_snapshot_and_keeps_other_messages() {
        let mailbox = Mailbox::new(3, Arc::default());
        mailbox.push(Kind::UserStatus(1), "d1".into());
        mailbox.push(Kind::Other, "done".into());
        mailbox.push(Kind::UserStatus(1), "d2".into());
        mailbox.push(Kind::UserStatus(1), "d3".into());
        mailbox.push(Kind::UserStatus(1), "d4".into());
        let batch = mailbox.take(None);
        assert!(batch.messages.is_empty(), "the snapshot comes first");
        let slot = batch.snapshot_slot.expect("snapshot due");
        mailbox.fill(slot, Some("full".into()));
        assert_eq!(text(&mailbox.take(None)), ["full", "done"]);
    }

    #[test]
    fn a_queue_full_of_other_messages_still_ends_in_a_snapshot() {
        let mailbox = Mailbox::new(3, Arc::default());
        mailbox.push(Kind::UserStatus(1), "d1".into());
        for i in 0..5 {
            mailbox.push(Kind::Other, format!("done{i}").into());
            mailbox.push(Kind::UserStatus(1), format!("d{i}").into());
        }
        let batch = mailbox.take(None);
        let slot = batch.snapshot_slot.expect("a snapshot is due");
        mailbox.fill(slot, Some("full".into()));
        let rest = mailbox.take(None);
        let all: Vec<&str> = batch.messages.iter().chain(rest.messages.iter()).map(|(_, m)| &**m).collect();
        assert!(all.contains(&"full"), "{all:?}");
        assert!(all.len() <= 3, "{all:?}");
    }

    #[test]
    fn resumption_replays_held_messages_or_asks_for_a_snapshot() {
        let mailbox = Mailbox::new(10, Arc::default());
        mailbox.push(Kind::UserStatus(1), "a".into());
        mailbox.push(Kind::UserStatus(1), "b".into());
        let first = mailbox.take(None);
        let a_id = first.messages[0].0;
        assert_eq!(text(&mailbox.take(Some(a_id))), ["b"]);

        let small = Mailbox::new(1000, Arc::default());
        for i in 0..(RETAINED + 10) {
            small.push(Kind::UserStatus(1), i.to_string().into());
            small.take(None);
        }
        let batch = small.take(Some(1));
        assert!(batch.snapshot_slot.is_some(), "too old to replay");
    }

    #[test]
    fn a_closed_mailbox_delivers_its_last_message() {
        let mailbox = Mailbox::new(10, Arc::default());
        mailbox.close(Some("bye".into()));
        mailbox.push(Kind::Other, "ignored".into());
        let batch = mailbox.take(None);
        assert_eq!(text(&batch), ["bye"]);
        assert!(batch.closed);
    }

    fn delta(user: &str, notes: &str) -> Arc<str> {
        let entry = serde_json::json!({"userId": user, "notes": notes});
        render::user_status_message(&[entry], true).into()
    }

    #[test]
    fn queued_deltas_of_distinct_users_go_out_as_one_message_in_order() {
        let mailbox = Mailbox::new(10, Arc::default());
        mailbox.push(Kind::UserStatus(1), delta("a", "1"));
        mailbox.push(Kind::UserStatus(2), delta("b", "1"));
        mailbox.push(Kind::UserStatus(1), delta("a", "2"));
        mailbox.push(Kind::Other, "done".into());
        mailbox.push(Kind::UserStatus(2), delta("b", "2"));
        let batch = mailbox.take(None);
        let ids: Vec<u64> = batch.messages.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, [2, 3, 4, 5], "a merged message takes the id of its last delta");
        let first: serde_json::Value = serde_json::from_str(&batch.messages[0].1).expect("JSON");
        assert_eq!(first["isDelta"], true);
        assert_eq!(
            first["userStatusList"],
            serde_json::json!([{"userId": "a", "notes": "1"}, {"userId": "b", "notes": "1"}])
        );
        let second: serde_json::Value = serde_json::from_str(&batch.messages[1].1).expect("JSON");
        assert_eq!(
            second["userStatusList"],
            serde_json::json!([{"userId": "a", "notes": "2"}]),
            "a user seen twice ends the run"
        );
        assert_eq!(&*batch.messages[2].1, "done");
        assert_eq!(batch.messages[3].1, delta("b", "2"), "a message in between ends the run");
    }
}
