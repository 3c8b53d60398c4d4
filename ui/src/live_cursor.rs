//! [`LiveCursor`]: which evaluation times a live connection is owed next (pure).
//!
//! A live graph continues the grid of the range query the browser drew first:
//! `start + step, start + 2*step, ...`. A point at `t` is due once `now >= t + delay` (the
//! delay lets late samples for `t` arrive). When the connection fell behind (a slow
//! source, a stalled socket), one push covers every point due, at most `max_points` of
//! them (the newest).

/// Evaluation times `start_ms, start_ms + step, ..., end_ms` (`start_ms == end_ms`: one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start_ms: i64,
    pub end_ms: i64,
}

impl Window {
    /// Number of evaluation times in the window.
    pub fn points(&self, step_ms: i64) -> i64 {
        (self.end_ms - self.start_ms) / step_ms + 1
    }
}

/// The grid position of one live connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveCursor {
    last_ms: i64,
    step_ms: i64,
    delay_ms: i64,
    max_points: i64,
}

impl LiveCursor {
    /// A cursor whose last point sent is `start_ms` (`step_ms` and `max_points` at least 1).
    pub fn new(start_ms: i64, step_ms: i64, delay_ms: i64, max_points: i64) -> Self {
        LiveCursor {
            last_ms: start_ms,
            step_ms: step_ms.max(1),
            delay_ms: delay_ms.max(0),
            max_points: max_points.max(1),
        }
    }

    /// The last evaluation time sent.
    pub fn last_ms(&self) -> i64 {
        self.last_ms
    }

    /// When (wall clock, ms) the next point becomes due.
    pub fn next_due_ms(&self) -> i64 {
        self.last_ms
            .saturating_add(self.step_ms)
            .saturating_add(self.delay_ms)
    }

    /// The points due at `now_ms`, or None when the next one is not due yet.
    pub fn due(&self, now_ms: i64) -> Option<Window> {
        let newest_allowed = now_ms.saturating_sub(self.delay_ms);
        let first = self.last_ms.saturating_add(self.step_ms);
        if newest_allowed < first {
            return None;
        }
        let n = (newest_allowed - first) / self.step_ms; // extra steps after `first`
        let end_ms = first + n * self.step_ms;
        let keep = n.min(self.max_points - 1);
        Some(Window {
            start_ms: end_ms - keep * self.step_ms,
            end_ms,
        })
    }

    /// Records that the points up to `end_ms` were sent.
    pub fn advance(&mut self, end_ms: i64) {
        self.last_ms = self.last_ms.max(end_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_due_before_the_next_step_plus_delay() {
        let c = LiveCursor::new(10_000, 1_000, 200, 100);
        assert_eq!(c.next_due_ms(), 11_200);
        assert_eq!(c.due(11_000), None);
        assert_eq!(c.due(11_199), None);
        assert_eq!(
            c.due(11_200),
            Some(Window {
                start_ms: 11_000,
                end_ms: 11_000
            })
        );
    }

    #[test]
    fn a_late_wake_up_covers_every_point_on_the_grid() {
        let c = LiveCursor::new(10_000, 1_000, 0, 100);
        let w = c.due(13_500).unwrap();
        assert_eq!(
            w,
            Window {
                start_ms: 11_000,
                end_ms: 13_000
            }
        );
        assert_eq!(w.points(1_000), 3);
    }

    #[test]
    fn a_long_gap_is_capped_to_the_newest_points() {
        let c = LiveCursor::new(0, 1_000, 0, 5);
        let w = c.due(1_000_000).unwrap();
        assert_eq!(
            w,
            Window {
                start_ms: 996_000,
                end_ms: 1_000_000
            }
        );
        assert_eq!(w.points(1_000), 5);
    }

    #[test]
    fn advancing_moves_the_grid_and_never_goes_back() {
        let mut c = LiveCursor::new(10_000, 1_000, 0, 100);
        let w = c.due(12_100).unwrap();
        c.advance(w.end_ms);
        assert_eq!(c.last_ms(), 12_000);
        assert_eq!(c.due(12_999), None);
        assert_eq!(c.due(13_000).unwrap().start_ms, 13_000);
        c.advance(5_000);
        assert_eq!(c.last_ms(), 12_000);
    }

    #[test]
    fn degenerate_settings_are_clamped() {
        let c = LiveCursor::new(0, 0, -5, 0);
        assert_eq!(c.next_due_ms(), 1);
        assert_eq!(
            c.due(10),
            Some(Window {
                start_ms: 10,
                end_ms: 10
            })
        );
    }
}
