//! The Google agent's command handler: Gmail commands to Gmail, Calendar
//! commands to Calendar. A command for a service the account does not have
//! enabled gets a clear `command.failed` (sekia called a nil client and crashed).

use async_trait::async_trait;

use super::calendar::{CALENDAR_COMMANDS, CalendarCommands};
use super::gmail::{GMAIL_COMMANDS, GmailCommands};
use crate::agent::CommandHandler;
use crate::command::{Args, CommandError};

/// Runs the commands of one Google account.
#[derive(Debug)]
pub struct GoogleCommands {
    gmail: Option<GmailCommands>,
    calendar: Option<CalendarCommands>,
}

impl GoogleCommands {
    pub fn new(gmail: Option<GmailCommands>, calendar: Option<CalendarCommands>) -> Self {
        Self { gmail, calendar }
    }

    /// The commands this account takes, for the registration (sekia lists only the
    /// enabled services' commands).
    pub fn names(&self) -> Vec<String> {
        let mut names = Vec::new();
        if self.gmail.is_some() {
            names.extend(GMAIL_COMMANDS.iter().map(|c| (*c).to_owned()));
        }
        if self.calendar.is_some() {
            names.extend(CALENDAR_COMMANDS.iter().map(|c| (*c).to_owned()));
        }
        names
    }

    fn disabled(command: &str, service: &str, key: &str) -> CommandError {
        CommandError::Service(format!(
            "{command} needs {service}, which is not enabled for this account ({key} = false)"
        ))
    }
}

#[async_trait]
impl CommandHandler for GoogleCommands {
    async fn handle(&self, command: &str, args: Args<'_>) -> Result<(), CommandError> {
        if GMAIL_COMMANDS.contains(&command) {
            return match &self.gmail {
                Some(g) => g.handle(command, args).await,
                None => Err(Self::disabled(command, "Gmail", "gmail.enabled")),
            };
        }
        if CALENDAR_COMMANDS.contains(&command) {
            return match &self.calendar {
                Some(c) => c.handle(command, args).await,
                None => Err(Self::disabled(
                    command,
                    "Google Calendar",
                    "calendar.enabled",
                )),
            };
        }
        Err(CommandError::Unknown(command.to_owned()))
    }

    fn unlisted(&self, command: &str) -> CommandError {
        if GMAIL_COMMANDS.contains(&command) {
            Self::disabled(command, "Gmail", "gmail.enabled")
        } else if CALENDAR_COMMANDS.contains(&command) {
            Self::disabled(command, "Google Calendar", "calendar.enabled")
        } else {
            CommandError::Unknown(command.to_owned())
        }
    }
}
