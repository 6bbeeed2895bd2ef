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

/// Delivered messages kept for `Last-Event-ID` resumption.
const RETAINED: usize = 256;

/// What a queued message is, for the overflow rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A user-status delta: replaceable by a snapshot.
    UserStatus,
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
        if !self.pending.iter().any(|(_, e)| matches!(e, Entry::Message(Kind::UserStatus, _))) {
            return;
        }
        let mut placed = self.has_requested_slot();
        let mut kept = VecDeque::with_capacity(self.pending.len());
        for (id, entry) in self.pending.drain(..) {
            match entry {
                Entry::Message(Kind::UserStatus, _) if placed => {}
                Entry::Message(Kind::UserStatus, _) => {
                    kept.push_back((id, Entry::Requested));
                    placed = true;
                }
                other => kept.push_back((id, other)),
            }
        }
        self.pending = kept;
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
        inner.pending.retain(|(_, e)| !matches!(e, Entry::Message(Kind::UserStatus, _)));
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
        if inner.closed || (kind == Kind::UserStatus && inner.has_requested_slot()) {
            return;
        }
        if inner.pending.len() >= self.limit {
            inner.collapse();
            if kind == Kind::UserStatus {
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
                inner.pending.retain(|(_, e)| !matches!(e, Entry::Message(Kind::UserStatus, _)));
                if !inner.has_snapshot_slot() {
                    let id = inner.allocate(self.floor());
                    inner.pending.push_back((id, Entry::Requested));
                }
            }
        }
        while let Some((id, entry)) = inner.pending.front() {
            let id = *id;
            match entry {
                Entry::Message(_, message) => {
                    let message = message.clone();
                    inner.pending.pop_front();
                    inner.delivered.push_back((id, message.clone()));
                    if inner.delivered.len() > RETAINED {
                        inner.delivered.pop_front();
                    }
                    batch.messages.push((id, message));
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
        mailbox.push(Kind::UserStatus, "a".into());
        mailbox.push(Kind::Other, "b".into());
        let batch = mailbox.take(None);
        assert_eq!(text(&batch), ["a", "b"]);
        assert!(batch.messages[0].0 < batch.messages[1].0);
        assert!(mailbox.take(None).messages.is_empty(), "drained");
    }

    #[test]
    fn a_reserved_snapshot_holds_back_later_messages_until_filled() {
        let mailbox = Mailbox::new(10, Arc::default());
        mailbox.push(Kind::UserStatus, "before".into());
        let slot = mailbox.reserve_snapshot();
        mailbox.push(Kind::UserStatus, "after".into());
        assert_eq!(text(&mailbox.take(None)), ["before"]);
        mailbox.fill(slot, Some("snapshot".into()));
        assert_eq!(text(&mailbox.take(None)), ["snapshot", "after"]);
    }

    #[test]
    fn overflow_replaces_deltas_with_a_snapshot_and_keeps_other_messages() {
        let mailbox = Mailbox::new(3, Arc::default());
        mailbox.push(Kind::UserStatus, "d1".into());
        mailbox.push(Kind::Other, "done".into());
        mailbox.push(Kind::UserStatus, "d2".into());
        mailbox.push(Kind::UserStatus, "d3".into());
        mailbox.push(Kind::UserStatus, "d4".into());
        let batch = mailbox.take(None);
        assert!(batch.messages.is_empty(), "the snapshot comes first");
        let slot = batch.snapshot_slot.expect("snapshot due");
        mailbox.fill(slot, Some("full".into()));
        assert_eq!(text(&mailbox.take(None)), ["full", "done"]);
    }

    #[test]
    fn a_queue_full_of_other_messages_still_ends_in_a_snapshot() {
        let mailbox = Mailbox::new(3, Arc::default());
        mailbox.push(Kind::UserStatus, "d1".into());
        for i in 0..5 {
            mailbox.push(Kind::Other, format!("done{i}").into());
            mailbox.push(Kind::UserStatus, format!("d{i}").into());
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
        mailbox.push(Kind::UserStatus, "a".into());
        mailbox.push(Kind::UserStatus, "b".into());
        let first = mailbox.take(None);
        let a_id = first.messages[0].0;
        assert_eq!(text(&mailbox.take(Some(a_id))), ["b"]);

        let small = Mailbox::new(1000, Arc::default());
        for i in 0..(RETAINED + 10) {
            small.push(Kind::UserStatus, i.to_string().into());
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
}
