//! Google Calendar: changes through sync tokens, upcoming events, and
//! sekia-google's three event commands.

pub mod api;
pub mod commands;
pub mod mapping;
pub mod poller;

pub use api::CalendarApi;
pub use commands::{CALENDAR_COMMANDS, CalendarCommands};
pub use mapping::{EVENT_CREATED, EVENT_DELETED, EVENT_UPCOMING, EVENT_UPDATED};
pub use poller::CalendarPoller;
