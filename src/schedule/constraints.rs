//! What suggestReschedules honours: the action's `constraints` argument on the
//! wire, and its checked, defaulted form.

use crate::model::ValidationError;
use chrono::{DateTime, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// Working hours of one day, `HH:MM` in the user's zone (`end` may be `24:00`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DayHours {
    /// When work starts.
    pub start: String,
    /// When work ends.
    pub end: String,
}

/// Working hours per weekday. A weekday (Monday to Friday) left out is a day
/// off; Saturday and Sunday left out use 09:00-17:00 when weekends are allowed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct WorkingHours {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mon: Option<DayHours>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tue: Option<DayHours>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wed: Option<DayHours>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thu: Option<DayHours>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fri: Option<DayHours>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sat: Option<DayHours>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sun: Option<DayHours>,
}

impl WorkingHours {
    fn days(&self) -> [(Weekday, &'static str, Option<&DayHours>); 7] {
        [
            (Weekday::Mon, "mon", self.mon.as_ref()),
            (Weekday::Tue, "tue", self.tue.as_ref()),
            (Weekday::Wed, "wed", self.wed.as_ref()),
            (Weekday::Thu, "thu", self.thu.as_ref()),
            (Weekday::Fri, "fri", self.fri.as_ref()),
            (Weekday::Sat, "sat", self.sat.as_ref()),
            (Weekday::Sun, "sun", self.sun.as_ref()),
        ]
    }
}

/// A span an attendee is busy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BusySpan {
    /// Start (RFC 3339).
    pub start: DateTime<Utc>,
    /// End (RFC 3339, exclusive).
    pub end: DateTime<Utc>,
}

/// An attendee and the times they are busy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AttendeeAvailability {
    /// Their email address.
    pub email: String,
    /// Whether they are optional (required by default).
    #[serde(default)]
    pub optional: bool,
    /// When they are busy.
    #[serde(default)]
    pub busy: Vec<BusySpan>,
}

/// What suggestReschedules honours (the action's `constraints` argument).
/// Every field is optional; the defaults are in each field's doc.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SuggestConstraints {
    /// The user's zone for working hours and days (default: the draft's zone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// How many suggestions to return, 1 to 50 (default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Minutes between candidate starts, 1 to 1440 (default 15).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granularity: Option<u32>,
    /// Working hours per weekday (default Monday to Friday 09:00-17:00).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_hours: Option<WorkingHours>,
    /// Also propose times outside working hours, ranked lower (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_outside_working_hours: Option<bool>,
    /// Only the draft's own day (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_day_only: Option<bool>,
    /// Saturdays and Sundays too (default false); without their own working
    /// hours they use 09:00-17:00.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_weekends: Option<bool>,
    /// How many days after the draft's day to look, 0 to 60 (default 7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_days: Option<u32>,
    /// The least distance from the original start, in minutes (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_offset: Option<u32>,
    /// The greatest distance from the original start, in minutes (default none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_offset: Option<u32>,
    /// Attendees and their busy times.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attendees: Vec<AttendeeAvailability>,
    /// Rank starts before 08:00 lower (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avoid_early_mornings: Option<bool>,
    /// Rank ends after 20:00 lower (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avoid_late_nights: Option<bool>,
}

/// Working hours of one weekday as times; `end` of `None` means midnight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Hours {
    pub start: NaiveTime,
    pub end: Option<NaiveTime>,
}

/// Checked constraints with their defaults filled in.
#[derive(Clone, Debug)]
pub(crate) struct Resolved {
    pub zone: Option<Tz>,
    pub limit: usize,
    pub granularity: i64,
    /// Indexed by `Weekday::num_days_from_monday`.
    pub hours: [Option<Hours>; 7],
    pub outside_hours: bool,
    pub max_days: u32,
    pub weekends: bool,
    pub min_offset: i64,
    pub max_offset: Option<i64>,
    pub avoid_early: bool,
    pub avoid_late: bool,
}

const MAX_DAYS: u32 = 60;

/// How many attendees' availability one request may carry.
pub const MAX_AVAILABILITY_ATTENDEES: usize = crate::model::MAX_ATTENDEES;

/// How many busy spans one attendee's availability may list.
pub const MAX_BUSY_SPANS: usize = 1000;

fn parse_clock(
    text: &str,
    field: &str,
    allow_midnight_end: bool,
) -> Result<Option<NaiveTime>, ValidationError> {
    if allow_midnight_end && text == "24:00" {
        return Ok(None);
    }
    NaiveTime::parse_from_str(text, "%H:%M")
        .map(Some)
        .map_err(|_| {
            ValidationError::new(
                field,
                format!("{text:?} is not a time of day HH:MM (00:00 to 24:00)"),
            )
        })
}

fn range(
    value: Option<u32>,
    field: &str,
    low: u32,
    high: u32,
    default: u32,
) -> Result<u32, ValidationError> {
    match value {
        None => Ok(default),
        Some(v) if (low..=high).contains(&v) => Ok(v),
        Some(_) => Err(ValidationError::new(
            field,
            format!("must be between {low} and {high}"),
        )),
    }
}

impl SuggestConstraints {
    /// Checks every value, naming the first one out of range by its full
    /// path (`constraints.workingHours.mon.start`).
    ///
    /// # Errors
    /// The first value out of range.
    pub fn check(&self) -> Result<(), ValidationError> {
        self.resolve().map(|_| ())
    }

    /// Checks every value and fills in the defaults.
    pub(crate) fn resolve(&self) -> Result<Resolved, ValidationError> {
        let field = |name: &str| format!("constraints.{name}");
        let zone = match &self.time_zone {
            None => None,
            Some(name) => Some(crate::model::zones::iana_zone(&field("timeZone"), name)?),
        };
        let nine = NaiveTime::from_hms_opt(9, 0, 0).expect("09:00 is a valid time");
        let five = NaiveTime::from_hms_opt(17, 0, 0);
        let default_hours = Some(Hours {
            start: nine,
            end: five,
        });
        let mut hours = [default_hours; 7];
        if let Some(working) = &self.working_hours {
            for (weekday, name, day) in working.days() {
                let slot = &mut hours[weekday.num_days_from_monday() as usize];
                *slot = match day {
                    None => None,
                    Some(day) => {
                        let at = |part: &str| field(&format!("workingHours.{name}.{part}"));
                        let start = parse_clock(&day.start, &at("start"), false)?.unwrap_or(nine);
                        let end = parse_clock(&day.end, &at("end"), true)?;
                        if end.is_some_and(|end| end <= start) {
                            return Err(ValidationError::new(at("end"), "must be after start"));
                        }
                        Some(Hours { start, end })
                    }
                };
            }
            for weekend in [Weekday::Sat, Weekday::Sun] {
                let slot = &mut hours[weekend.num_days_from_monday() as usize];
                if slot.is_none() {
                    *slot = default_hours;
                }
            }
        }
        let min_offset = range(self.min_offset, &field("minOffset"), 0, MAX_DAYS * 1440, 0)?;
        let max_offset = match self.max_offset {
            None => None,
            Some(_) => Some(range(
                self.max_offset,
                &field("maxOffset"),
                1,
                MAX_DAYS * 1440,
                0,
            )?),
        };
        if max_offset.is_some_and(|max| max < min_offset) {
            return Err(ValidationError::new(
                field("maxOffset"),
                "must not be less than minOffset",
            ));
        }
        if self.attendees.len() > MAX_AVAILABILITY_ATTENDEES {
            return Err(ValidationError::new(
                field("attendees"),
                format!("must list at most {MAX_AVAILABILITY_ATTENDEES} attendees"),
            ));
        }
        for (i, attendee) in self.attendees.iter().enumerate() {
            if attendee.busy.len() > MAX_BUSY_SPANS {
                return Err(ValidationError::new(
                    field(&format!("attendees[{i}].busy")),
                    format!("must list at most {MAX_BUSY_SPANS} busy spans"),
                ));
            }
            if attendee.email.trim().is_empty() {
                return Err(ValidationError::new(
                    field(&format!("attendees[{i}].email")),
                    "must not be empty",
                ));
            }
            if let Some(j) = attendee.busy.iter().position(|span| span.end <= span.start) {
                return Err(ValidationError::new(
                    field(&format!("attendees[{i}].busy[{j}].end")),
                    "must be after start",
                ));
            }
        }
        Ok(Resolved {
            zone,
            limit: range(self.limit, &field("limit"), 1, 50, 5)? as usize,
            granularity: i64::from(range(self.granularity, &field("granularity"), 1, 1440, 15)?),
            hours,
            outside_hours: self.allow_outside_working_hours.unwrap_or(false),
            max_days: if self.same_day_only.unwrap_or(false) {
                0
            } else {
                range(self.max_days, &field("maxDays"), 0, MAX_DAYS, 7)?
            },
            weekends: self.allow_weekends.unwrap_or(false),
            min_offset: i64::from(min_offset),
            max_offset: max_offset.map(i64::from),
            avoid_early: self.avoid_early_mornings.unwrap_or(true),
            avoid_late: self.avoid_late_nights.unwrap_or(true),
        })
    }
}
