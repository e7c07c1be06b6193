//! [`Numeric`]: an exact decimal number, the neutral form of PostgreSQL
//! `NUMERIC`, MySQL `DECIMAL` and decimal text in SQLite.
//!
//! It is a 128-bit mantissa and a decimal scale (the value is
//! `mantissa × 10^-scale`), so up to 38 significant digits. PostgreSQL's
//! `SUM(bigint)` and `AVG(…)` return `NUMERIC`: decoding such a column as an
//! `i64`, an `f64` or a `String` goes through this type, with or without the
//! `decimal` feature (which adds `rust_decimal::Decimal`).
//!
//! ```
//! use dualdb::types::Numeric;
//!
//! let n: Numeric = "-12.50".parse().unwrap();
//! assert_eq!((n.mantissa(), n.scale()), (-1250, 2));
//! assert_eq!(n.to_string(), "-12.50");
//! assert_eq!(n.to_f64(), -12.5);
//! assert_eq!(Numeric::new(42, 0).to_i64(), Some(42));
//! assert_eq!(n.to_i64(), None); // not a whole number
//! assert!("1e5".parse::<Numeric>().is_err());
//! ```

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// An exact decimal: `mantissa × 10^-scale`.
///
/// Equality is by value: `1.50 == 1.5` (the scale is kept for display).
///
/// ```
/// use dualdb::types::Numeric;
/// let price: Numeric = "19.90".parse().unwrap();
/// assert_eq!(price, "19.9".parse().unwrap());
/// assert_eq!(price.to_string(), "19.90");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Numeric {
    /// The mantissa's two's-complement bits, low half first: an `i128`
    /// field would align every [`Value`](crate::Value) to 16 bytes and make
    /// it 48 bytes long instead of 32 (a statement's parameters are a vector
    /// of them).
    mantissa: [u64; 2],
    scale: u32,
}

/// The largest scale accepted: PostgreSQL's display scale is at most 1000,
/// but a 128-bit mantissa holds 38 digits.
const MAX_SCALE: u32 = 38;

impl Numeric {
    /// `mantissa × 10^-scale`, kept as given; text parses with [`FromStr`].
    ///
    /// ```
    /// use dualdb::types::Numeric;
    /// assert_eq!(Numeric::new(12345, 2).to_string(), "123.45");
    /// ```
    pub const fn new(mantissa: i128, scale: u32) -> Self {
        let bits = mantissa as u128;
        Numeric {
            mantissa: [bits as u64, (bits >> 64) as u64],
            scale,
        }
    }

    /// The digits as one integer.
    ///
    /// ```
    /// use dualdb::types::Numeric;
    /// assert_eq!(Numeric::new(-5, 1).mantissa(), -5);
    /// ```
    pub const fn mantissa(&self) -> i128 {
        (((self.mantissa[1] as u128) << 64) | self.mantissa[0] as u128) as i128
    }

    /// How many of the digits are after the decimal point.
    ///
    /// ```
    /// use dualdb::types::Numeric;
    /// assert_eq!("1.250".parse::<Numeric>().unwrap().scale(), 3);
    /// ```
    pub const fn scale(&self) -> u32 {
        self.scale
    }

    /// The nearest `f64`.
    ///
    /// ```
    /// use dualdb::types::Numeric;
    /// assert_eq!(Numeric::new(25, 1).to_f64(), 2.5);
    /// ```
    pub fn to_f64(&self) -> f64 {
        // Through the decimal text: exact digits, one correctly rounded parse.
        self.to_string().parse().unwrap_or(f64::NAN)
    }

    /// The value as an `i64`, if it is a whole number that fits.
    ///
    /// ```
    /// use dualdb::types::Numeric;
    /// assert_eq!(Numeric::new(1200, 2).to_i64(), Some(12));
    /// assert_eq!(Numeric::new(1201, 2).to_i64(), None);
    /// ```
    pub fn to_i64(&self) -> Option<i64> {
        let divisor = 10i128.checked_pow(self.scale)?;
        if self.mantissa() % divisor != 0 {
            return None;
        }
        i64::try_from(self.mantissa() / divisor).ok()
    }

    /// The value of a finite `f64`, from its shortest decimal text.
    ///
    /// ```
    /// use dualdb::types::Numeric;
    /// assert_eq!(Numeric::from_f64(0.1).unwrap().to_string(), "0.1");
    /// assert!(Numeric::from_f64(f64::INFINITY).is_err());
    /// ```
    pub fn from_f64(f: f64) -> Result<Self> {
        if !f.is_finite() {
            return Err(Error::decode(format!("{f} is not a finite number")));
        }
        // `{}` never uses an exponent for f64 and prints the shortest digits
        // that read back as the same float.
        format!("{f}").parse()
    }
}

impl Numeric {
    /// The same value with no trailing zeros after the point.
    ///
    /// ```
    /// use dualdb::types::Numeric;
    /// let n = Numeric::new(1500, 3).normalized();
    /// assert_eq!((n.mantissa(), n.scale()), (15, 1));
    /// ```
    pub fn normalized(&self) -> Self {
        let (mut mantissa, mut scale) = (self.mantissa(), self.scale);
        while scale > 0 && mantissa % 10 == 0 {
            mantissa /= 10;
            scale -= 1;
        }
        Numeric::new(mantissa, scale)
    }
}

impl PartialEq for Numeric {
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (self.normalized(), other.normalized());
        (a.mantissa(), a.scale) == (b.mantissa(), b.scale)
    }
}

impl Eq for Numeric {}

impl std::hash::Hash for Numeric {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let n = self.normalized();
        (n.mantissa(), n.scale).hash(state);
    }
}

impl From<i64> for Numeric {
    fn from(i: i64) -> Self {
        Numeric::new(i.into(), 0)
    }
}

impl fmt::Display for Numeric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.mantissa().unsigned_abs().to_string();
        let scale = self.scale as usize;
        if self.mantissa() < 0 {
            f.write_str("-")?;
        }
        if scale == 0 {
            return f.write_str(&digits);
        }
        if digits.len() > scale {
            let (int, frac) = digits.split_at(digits.len() - scale);
            write!(f, "{int}.{frac}")
        } else {
            write!(f, "0.{}{digits}", "0".repeat(scale - digits.len()))
        }
    }
}

impl FromStr for Numeric {
    type Err = Error;

    /// Plain decimal text: an optional sign, digits, an optional fraction.
    /// Trailing zeros of the fraction are dropped only where the digits would
    /// not fit otherwise (MySQL pads `DECIMAL(65,30)` to 30 places).
    fn from_str(s: &str) -> Result<Self> {
        let bad = || Error::decode(format!("{s:?} is not a decimal number"));
        let text = s.trim();
        let (negative, body) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        if (int.is_empty() && frac.is_empty()) || !all_digits(int) || !all_digits(frac) {
            return Err(bad());
        }
        let too_big =
            || Error::decode(format!("{s:?} has more digits than dualdb's Numeric holds"));
        let mut mantissa: i128 = 0;
        for b in int.bytes() {
            mantissa = mantissa
                .checked_mul(10)
                .and_then(|m| m.checked_add(i128::from(b - b'0')))
                .ok_or_else(too_big)?;
        }
        // Keep the written scale where it fits; drop only trailing zeros.
        let keep = fitting_scale(mantissa, frac)
            .min(MAX_SCALE as usize)
            .max(frac.trim_end_matches('0').len());
        for b in frac[..keep].bytes() {
            mantissa = mantissa
                .checked_mul(10)
                .and_then(|m| m.checked_add(i128::from(b - b'0')))
                .ok_or_else(too_big)?;
        }
        Ok(Numeric::new(
            if negative { -mantissa } else { mantissa },
            keep as u32,
        ))
    }
}

/// How many digits of `frac` can follow `mantissa` without overflow.
fn fitting_scale(mantissa: i128, frac: &str) -> usize {
    let mut m = mantissa;
    for (i, b) in frac.bytes().enumerate() {
        match m
            .checked_mul(10)
            .and_then(|m| m.checked_add(i128::from(b - b'0')))
        {
            Some(next) => m = next,
            None => return i,
        }
    }
    frac.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Numeric {
        s.parse().unwrap()
    }

    /// The mantissa's halves give back every `i128`, and keep `Value` (a
    /// statement's parameters are a vector of them) at 32 bytes.
    #[test]
    fn mantissa_round_trips_and_values_stay_small() {
        for m in [
            0,
            1,
            -1,
            i128::MAX,
            i128::MIN,
            1 << 64,
            -(1 << 64),
            u64::MAX as i128,
        ] {
            assert_eq!(Numeric::new(m, 3).mantissa(), m);
        }
        assert_eq!(std::mem::size_of::<crate::Value>(), 32);
    }

    #[test]
    fn parses_and_prints() {
        for s in [
            "0",
            "1",
            "-1",
            "12.50",
            "-0.001",
            "123456789.987654321",
            "0.5",
        ] {
            assert_eq!(n(s).to_string(), s);
        }
        assert_eq!(n("+7.").to_string(), "7");
        assert_eq!(n(".25").to_string(), "0.25");
        assert_eq!(n("-.5"), Numeric::new(-5, 1));
        for bad in ["", ".", "-", "1.2.3", "1e3", "abc", "1 2", "--1"] {
            assert!(bad.parse::<Numeric>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn trailing_zeros_give_way_only_when_needed() {
        // 35 integer digits and 30 zeros, as MySQL DECIMAL(65,30) sends them
        let wide = format!("{}.{}", "9".repeat(35), "0".repeat(30));
        let v = n(&wide);
        assert_eq!(v.to_string(), format!("{}.{}", "9".repeat(35), "000"));
        assert_eq!(n("1.500000000000000000000000000000").to_f64(), 1.5);
        // significant digits that do not fit are an error, not a rounding
        assert!(format!("{}.5", "9".repeat(38)).parse::<Numeric>().is_err());
        assert!("1".repeat(40).parse::<Numeric>().is_err());
    }

    #[test]
    fn conversions() {
        assert_eq!(n("42.000").to_i64(), Some(42));
        assert_eq!(n("42.001").to_i64(), None);
        assert_eq!(n("99999999999999999999").to_i64(), None);
        assert_eq!(Numeric::from_f64(0.1).unwrap(), n("0.1"));
        assert_eq!(Numeric::from_f64(-2.5e-7).unwrap(), n("-0.00000025"));
        assert!(Numeric::from_f64(f64::NAN).is_err());
        assert_eq!(Numeric::from(-3), n("-3"));
    }

    #[test]
    fn equality_is_by_value() {
        assert_eq!(n("1.50"), n("1.5"));
        assert_eq!(n("0.000"), n("0"));
        assert_ne!(n("1.05"), n("1.5"));
        assert_eq!(n("1.50").to_string(), "1.50");
        let set: std::collections::HashSet<_> = [n("2.0"), n("2"), n("2.00")].into();
        assert_eq!(set.len(), 1);
    }
}
