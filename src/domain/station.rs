//! Station logins: what a presence session is logged in to, and what that shows of its user.

use serde::{Deserialize, Deserializer, Serialize};

/// Longest workstation name or remote number accepted.
pub const MAX_STATION_LEN: usize = 64;

/// How a session is logged in to a station (the ICWS station settings types).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StationLogin {
    /// A workstation (a phone of the PBX).
    Workstation { workstation: String },
    /// A workstation used from elsewhere, its audio on a remote number when one is given.
    RemoteWorkstation {
        workstation: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        remote_number: Option<String>,
    },
    /// A remote number only (a mobile or home phone).
    RemoteNumber {
        remote_number: String,
        #[serde(default)]
        persistent: bool,
    },
    /// Logged in without a station.
    Stationless,
}

impl StationLogin {
    /// The contract's `stationSetting` number: 0 none (stationless), 1 workstation, 2 remote
    /// workstation, 3 remote number.
    pub fn setting(&self) -> u8 {
        match self {
            Self::Stationless => 0,
            Self::Workstation { .. } => 1,
            Self::RemoteWorkstation { .. } => 2,
            Self::RemoteNumber { .. } => 3,
        }
    }

    /// The station's id and extension: the workstation, the remote number, or `""`.
    pub fn id(&self) -> &str {
        match self {
            Self::Workstation { workstation } | Self::RemoteWorkstation { workstation, .. } => workstation,
            Self::RemoteNumber { remote_number, .. } => remote_number,
            Self::Stationless => "",
        }
    }

    /// The remote number, for the settings that carry one.
    pub fn remote_number(&self) -> Option<&str> {
        match self {
            Self::RemoteWorkstation { remote_number, .. } => remote_number.as_deref(),
            Self::RemoteNumber { remote_number, .. } => Some(remote_number),
            Self::Workstation { .. } | Self::Stationless => None,
        }
    }

    /// What a user's status lists in `stations` for this login (nothing when stationless).
    pub fn station_name(&self) -> Option<&str> {
        match self {
            Self::Stationless => None,
            other => Some(other.id()),
        }
    }
}

/// Is `text` acceptable as a workstation name or remote number?
pub fn valid_station_text(text: &str) -> bool {
    !text.trim().is_empty() && text.chars().count() <= MAX_STATION_LEN && !text.chars().any(char::is_control)
}

/// Reads a station login as stored, including the bare workstation name of earlier versions.
pub fn deserialize_login<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<StationLogin>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Stored {
        Login(StationLogin),
        Workstation(String),
    }
    Ok(Option::<Stored>::deserialize(deserializer)?.map(|stored| match stored {
        Stored::Login(login) => login,
        Stored::Workstation(workstation) => StationLogin::Workstation { workstation },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Holder {
        #[serde(default, deserialize_with = "deserialize_login")]
        station: Option<StationLogin>,
    }

    fn read(json: &str) -> Option<StationLogin> {
        serde_json::from_str::<Holder>(json).expect("readable").station
    }

    #[test]
    fn stored_logins_are_read_back_including_bare_workstation_names() {
        let remote =
            StationLogin::RemoteWorkstation { workstation: "7001".into(), remote_number: Some("+33 6".into()) };
        let stored = format!(r#"{{"station":{}}}"#, serde_json::to_string(&remote).expect("serialisable"));
        assert_eq!(read(&stored), Some(remote));
        assert_eq!(read(r#"{"station":"7001"}"#), Some(StationLogin::Workstation { workstation: "7001".into() }));
        assert_eq!(read(r#"{"station":null}"#), None);
        assert_eq!(read("{}"), None);
        assert_eq!(read(r#"{"station":{"type":"stationless"}}"#), Some(StationLogin::Stationless));
    }

    #[test]
    fn each_setting_shows_its_number_id_and_station_name() {
        let cases = [
            (StationLogin::Stationless, 0, "", None),
            (StationLogin::Workstation { workstation: "7001".into() }, 1, "7001", Some("7001")),
            (
                StationLogin::RemoteWorkstation { workstation: "7002".into(), remote_number: None },
                2,
                "7002",
                Some("7002"),
            ),
            (StationLogin::RemoteNumber { remote_number: "555".into(), persistent: true }, 3, "555", Some("555")),
        ];
        for (login, setting, id, name) in cases {
            assert_eq!((login.setting(), login.id(), login.station_name()), (setting, id, name), "{login:?}");
        }
    }

    #[test]
    fn station_texts_are_bounded_and_printable() {
        assert!(valid_station_text("7001"));
        assert!(!valid_station_text(""));
        assert!(!valid_station_text("  "));
        assert!(!valid_station_text("a\nb"));
        assert!(!valid_station_text(&"9".repeat(65)));
    }
}
