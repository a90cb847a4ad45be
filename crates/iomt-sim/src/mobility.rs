//! Where nodes are: static placement, random waypoint, group mobility and scripted paths.
//!
//! Positions are local metres on a flat plane (plus height); the radio medium derives who
//! hears whom from them. Models are evaluated at increasing times only.

use std::time::Duration;

use iomt_schema::Instant;

use crate::rng::{SimRng, below, unit};

/// A point in local metres.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Point {
    /// East.
    pub x: f64,
    /// North.
    pub y: f64,
    /// Up.
    pub z: f64,
}

impl Point {
    /// A point on the ground.
    pub const fn new(x: f64, y: f64) -> Self {
        Self { x, y, z: 0.0 }
    }

    /// Straight-line distance.
    pub fn distance(self, other: Self) -> f64 {
        let (dx, dy, dz) = (self.x - other.x, self.y - other.y, self.z - other.z);
        (dx * dx + dy * dy + dz * dz).sqrt()
    }

    fn lerp(self, other: Self, f: f64) -> Self {
        Self {
            x: self.x + (other.x - self.x) * f,
            y: self.y + (other.y - self.y) * f,
            z: self.z + (other.z - self.z) * f,
        }
    }

    fn plus(self, other: Self) -> Self {
        Self {
            x: self.x + other.x,
            y: self.y + other.y,
            z: self.z + other.z,
        }
    }
}

/// Random waypoint: pick a point in the area and a speed, go there, pause, repeat.
///
/// The classic model's average speed decays towards zero when slow legs dominate, and it starts
/// from an unrepresentative uniform placement; `min_speed > 0` and `warmup` (the model runs
/// that long before simulated time 0) avoid both.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RandomWaypoint {
    /// South-west corner of the area.
    pub min: Point,
    /// North-east corner of the area.
    pub max: Point,
    /// Slowest speed, metres per second (kept above zero).
    pub min_speed: f64,
    /// Fastest speed, metres per second.
    pub max_speed: f64,
    /// Pause at each waypoint.
    pub pause: Duration,
    /// How long the model runs before time 0.
    pub warmup: Duration,
}

/// A scripted path: waypoints at given offsets from its start, straight lines between them.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    /// `(offset from the start, point)`, offsets increasing; the first offset is normally 0.
    pub waypoints: Vec<(Duration, Point)>,
    /// Start over after the last waypoint (an orbit), rather than stay there.
    pub looped: bool,
    /// How long after time 0 the path starts (a convoy's later vehicles start later).
    pub delay: Duration,
}

impl Path {
    /// A circular orbit (a UAV's loiter) of `radius` metres around `centre` at `height`, one
    /// revolution per `period`, approximated by `steps` straight legs.
    pub fn orbit(centre: Point, radius: f64, height: f64, period: Duration, steps: u32) -> Self {
        let steps = steps.max(3);
        let waypoints = (0..=steps)
            .map(|i| {
                let angle = std::f64::consts::TAU * f64::from(i) / f64::from(steps);
                let at = period.mul_f64(f64::from(i) / f64::from(steps));
                let point = Point {
                    x: centre.x + radius * angle.cos(),
                    y: centre.y + radius * angle.sin(),
                    z: height,
                };
                (at, point)
            })
            .collect();
        Self {
            waypoints,
            looped: true,
            delay: Duration::ZERO,
        }
    }

    /// The same path, started `delay` later.
    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay += delay;
        self
    }

    fn at(&self, now: Instant) -> Point {
        let Some(&(_, first)) = self.waypoints.first() else {
            return Point::default();
        };
        let Some(&(end, last)) = self.waypoints.last() else {
            return first;
        };
        let mut t = now.saturating_duration_since(Instant::ZERO + self.delay);
        if t >= end {
            if !self.looped || end.is_zero() {
                return last;
            }
            t = Duration::from_nanos(
                u64::try_from(t.as_nanos() % end.as_nanos()).unwrap_or_default(),
            );
        }
        let mut previous = (Duration::ZERO, first);
        for &(at, point) in &self.waypoints {
            if t <= at {
                let span = at.saturating_sub(previous.0);
                if span.is_zero() {
                    return point;
                }
                let f = (t.saturating_sub(previous.0)).as_secs_f64() / span.as_secs_f64();
                return previous.1.lerp(point, f);
            }
            previous = (at, point);
        }
        last
    }
}

/// How one node moves.
#[derive(Debug, Clone, PartialEq)]
pub enum Mobility {
    /// Stays put.
    Static(Point),
    /// Random waypoint in an area.
    RandomWaypoint(RandomWaypoint),
    /// Follows a scripted path.
    Path(Path),
    /// Keeps a fixed offset from a group's reference point (reference point group mobility: a
    /// squad around its leader's track). Groups are added with
    /// [`Simulator::add_group`](crate::Simulator::add_group).
    Group {
        /// The group, as returned by `add_group`.
        group: usize,
        /// Offset from the reference point.
        offset: Point,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct Leg {
    from: Point,
    to: Point,
    depart: f64,
    arrive: f64,
    resume: f64,
}

/// A mobility model with its running state.
#[derive(Debug, Clone)]
pub(crate) struct Mover {
    pub(crate) model: Mobility,
    leg: Option<Leg>,
    rng: SimRng,
}

impl Mover {
    pub(crate) fn new(model: Mobility, rng: SimRng) -> Self {
        Self {
            model,
            leg: None,
            rng,
        }
    }

    pub(crate) fn is_static(&self) -> bool {
        matches!(self.model, Mobility::Static(_))
    }

    /// The position at `now` (non-decreasing across calls), with group references resolved by
    /// the caller.
    pub(crate) fn position(&mut self, now: Instant, groups: &[Point]) -> Point {
        match &self.model {
            Mobility::Static(p) => *p,
            Mobility::Path(path) => path.at(now),
            Mobility::Group { group, offset } => groups
                .get(*group)
                .copied()
                .unwrap_or_default()
                .plus(*offset),
            Mobility::RandomWaypoint(rwp) => {
                let rwp = *rwp;
                let t = (now.saturating_duration_since(Instant::ZERO) + rwp.warmup).as_secs_f64();
                self.waypoint(&rwp, t)
            }
        }
    }

    fn waypoint(&mut self, rwp: &RandomWaypoint, t: f64) -> Point {
        loop {
            let leg = match self.leg.take() {
                Some(leg) => leg,
                None => {
                    let start = self.random_point(rwp);
                    self.new_leg(rwp, start, 0.0)
                }
            };
            if t < leg.resume {
                let point = if t <= leg.depart {
                    leg.from
                } else if t >= leg.arrive {
                    leg.to
                } else {
                    leg.from
                        .lerp(leg.to, (t - leg.depart) / (leg.arrive - leg.depart))
                };
                self.leg = Some(leg);
                return point;
            }
            let next = self.new_leg(rwp, leg.to, leg.resume);
            self.leg = Some(next);
        }
    }

    fn new_leg(&mut self, rwp: &RandomWaypoint, from: Point, depart: f64) -> Leg {
        let to = self.random_point(rwp);
        let min = rwp.min_speed.max(0.01);
        let max = rwp.max_speed.max(min);
        let speed = min + (max - min) * unit(&mut self.rng);
        let arrive = depart + from.distance(to) / speed;
        Leg {
            from,
            to,
            depart,
            arrive,
            resume: arrive + rwp.pause.as_secs_f64().max(1e-3),
        }
    }

    fn random_point(&mut self, rwp: &RandomWaypoint) -> Point {
        let mut coord = |lo: f64, hi: f64| lo + (hi - lo) * unit(&mut self.rng);
        let x = coord(rwp.min.x, rwp.max.x);
        let y = coord(rwp.min.y, rwp.max.y);
        let z = if rwp.max.z > rwp.min.z {
            coord(rwp.min.z, rwp.max.z)
        } else {
            rwp.min.z
        };
        Point { x, y, z }
    }
}

/// Places `n` points uniformly in an area, e.g. for a static field of sensors.
pub fn scatter(rng: &mut SimRng, n: usize, min: Point, max: Point) -> Vec<Point> {
    (0..n)
        .map(|_| {
            let span = |lo: f64, hi: f64, rng: &mut SimRng| {
                let steps = 1_000_000;
                #[allow(clippy::cast_precision_loss, clippy::as_conversions)]
                let f = below(rng, steps) as f64 / steps as f64;
                lo + (hi - lo) * f
            };
            let x = span(min.x, max.x, rng);
            let y = span(min.y, max.y, rng);
            Point::new(x, y)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Purpose, Seed};

    fn at(s: f64) -> Instant {
        Instant::ZERO + Duration::from_secs_f64(s)
    }

    #[test]
    fn random_waypoint_stays_in_area_with_bounded_speed() {
        let rwp = RandomWaypoint {
            min: Point::new(0.0, 0.0),
            max: Point::new(1000.0, 500.0),
            min_speed: 1.0,
            max_speed: 5.0,
            pause: Duration::from_secs(2),
            warmup: Duration::from_secs(600),
        };
        let mut m = Mover::new(
            Mobility::RandomWaypoint(rwp),
            Seed(1).stream(Purpose::Mobility, 0),
        );
        let mut last = m.position(at(0.0), &[]);
        let mut moved = 0.0;
        for i in 1..2000 {
            let p = m.position(at(f64::from(i) * 0.5), &[]);
            assert!((0.0..=1000.0).contains(&p.x) && (0.0..=500.0).contains(&p.y));
            let step = p.distance(last);
            assert!(step <= 5.0 * 0.5 + 1e-6, "{step}");
            moved += step;
            last = p;
        }
        assert!(moved > 500.0, "it moves: {moved}");
    }

    #[test]
    fn orbit_and_delayed_path() {
        let orbit = Path::orbit(
            Point::new(0.0, 0.0),
            100.0,
            50.0,
            Duration::from_secs(60),
            36,
        );
        let p = orbit.at(at(15.0));
        assert!(
            (p.distance(Point {
                x: 0.0,
                y: 100.0,
                z: 50.0
            })) < 2.0,
            "{p:?}"
        );
        let again = orbit.at(at(75.0));
        assert!(p.distance(again) < 1e-6);
        let convoy = orbit.clone().delayed(Duration::from_secs(15));
        assert!(convoy.at(at(30.0)).distance(p) < 1e-6);
    }

    #[test]
    fn group_follows_reference() {
        let mut m = Mover::new(
            Mobility::Group {
                group: 0,
                offset: Point::new(5.0, -5.0),
            },
            Seed(1).stream(Purpose::Mobility, 0),
        );
        let p = m.position(at(1.0), &[Point::new(100.0, 100.0)]);
        assert_eq!(p, Point::new(105.0, 95.0));
    }
}
