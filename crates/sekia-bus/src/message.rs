use std::fmt;
use std::ops::Deref;

use bytes::Bytes;

/// The subject a message was published on.
///
/// Cheap to clone (a reference-counted byte buffer): LocalBus fans one publish out to
/// many subscribers with one allocation, and NatsBus hands over the buffer async-nats
/// already holds without copying. Dereferences to `&str`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Subject(async_nats::Subject);

impl Subject {
    /// The subject as a string slice.
    #[inline]
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub(crate) fn from_nats(subject: async_nats::Subject) -> Self {
        Self(subject)
    }
}

impl std::hash::Hash for Subject {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl From<&str> for Subject {
    fn from(s: &str) -> Self {
        Self(async_nats::Subject::from(s))
    }
}

impl From<String> for Subject {
    fn from(s: String) -> Self {
        Self(async_nats::Subject::from(s))
    }
}

impl Deref for Subject {
    type Target = str;
    #[inline]
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Subject {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq<str> for Subject {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Subject {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// One message delivered to a [`Subscription`](crate::Subscription).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The concrete subject it was published on (never a pattern).
    pub subject: Subject,
    /// The payload, shared (not copied) between all subscribers that receive it.
    pub payload: Bytes,
}
