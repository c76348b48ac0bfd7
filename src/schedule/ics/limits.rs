//! How much of one iCalendar file is read: every limit here bounds the work
//! and memory a file can cause, whatever it holds. Each one exceeded is an
//! [`IcsProblem`](super::IcsProblem) naming it, never a failure of the whole
//! file: what came before the limit is still used.

/// Content lines read per file (after unfolding). A line beyond it is not
/// read: the rest of the file is left out.
pub const MAX_LINES: usize = 1_000_000;

/// Components (`BEGIN:` lines) read per file. A component beyond it is left
/// out with everything it holds, and so is every later one.
pub const MAX_COMPONENTS: usize = 200_000;

/// How deep components may nest (a `VALARM` in a `VEVENT` in a `VCALENDAR`
/// is 3 deep; the components RFC 9073 adds reach 4). A component deeper
/// than this is left out with everything it holds.
pub const MAX_DEPTH: usize = 16;

/// Properties kept per `VEVENT` (a meeting with thousands of attendees
/// fits). Properties beyond it are left out.
pub const MAX_PROPERTIES: usize = 10_000;

/// `VTIMEZONE` components read per file. A zone beyond it is left out, and
/// times in it are read as in an unknown zone.
pub const MAX_ZONES: usize = 100;

/// Changes of offset followed per `VTIMEZONE`, from its `STANDARD` and
/// `DAYLIGHT` rules (Outlook writes rules that start in 1601: two changes a
/// year up to [`ZONE_RULES_UNTIL_YEAR`] take 1,200). Past the last change
/// followed, its offset holds.
pub const MAX_ZONE_CHANGES: usize = 2_000;

/// Years of `RRULE`s walked per `VTIMEZONE`, summed over its rules (a rule
/// from 1601 takes 600). Rules beyond it are left out.
pub const MAX_ZONE_RULE_YEARS: usize = 10_000;

/// The last year whose changes of offset are followed in a `VTIMEZONE`'s
/// rules; later times keep the offset of that year's last change.
pub const ZONE_RULES_UNTIL_YEAR: i32 = 2200;

/// Problems listed per file. Beyond it, one last problem says how many more
/// there were.
pub const MAX_PROBLEMS: usize = 1_000;

/// What reading one file took, counted as it is read: each count stays
/// within its limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IcsWork {
    /// Content lines read, at most [`MAX_LINES`].
    pub lines: usize,
    /// Components begun, at most [`MAX_COMPONENTS`].
    pub components: usize,
    /// The deepest nesting of components, at most [`MAX_DEPTH`].
    pub deepest: usize,
    /// Changes of offset expanded from `VTIMEZONE` rules, at most
    /// [`MAX_ZONE_CHANGES`] per zone and [`MAX_ZONES`] zones.
    pub zone_changes: usize,
}
