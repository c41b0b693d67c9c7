//! The units the bill is counted in, and how they are written for people.
//!
//! Providers say "GB" but count 2^30 bytes: AWS calls it binary gigabytes in its S3 and EBS
//! billing, and storage vendors follow that convention. Using 10^9 instead would overstate
//! every storage line here by 7.4% (both sides alike, so the saving's percentage would not
//! move, but its dollars would).

/// Bytes in one billed "GB".
pub const BYTES_PER_GB: f64 = 1_073_741_824.0;

/// Days in an average month (365.25 / 12): archive windows are set in days, bills run by
/// the month.
pub const DAYS_PER_MONTH: f64 = 30.4375;

/// `bytes` in billed GB.
pub fn gb(bytes: f64) -> f64 {
    bytes / BYTES_PER_GB
}

/// US dollars as `$1,234.56`; whole dollars from $1,000 up (cents stop mattering there and
/// columns stay narrow); `<$0.01` for a cost that is real but rounds to nothing.
pub fn usd(amount: f64) -> String {
    if amount > 0.0 && amount < 0.005 {
        return "<$0.01".to_owned();
    }
    let sign = if amount < 0.0 { "-" } else { "" };
    let amount = amount.abs();
    if amount >= 1000.0 {
        format!("{sign}${}", grouped(amount.round() as u64))
    } else {
        let cents = (amount * 100.0).round() as u64;
        format!("{sign}${}.{:02}", grouped(cents / 100), cents % 100)
    }
}

/// A count with thousands separators: `2,000,000`.
pub fn count(n: u64) -> String {
    grouped(n)
}

/// A byte size in billed GB with one decimal (`558.8 GB`), or in MB below 0.1 GB so that
/// small deployments do not read as zero.
pub fn size(bytes: f64) -> String {
    let gb = gb(bytes);
    if gb >= 0.1 || bytes == 0.0 {
        format!("{gb:.1} GB")
    } else {
        format!("{:.1} MB", bytes / (1024.0 * 1024.0))
    }
}

fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollars_are_grouped_with_cents_below_a_thousand() {
        assert_eq!(usd(0.0), "$0.00");
        assert_eq!(usd(0.004), "<$0.01");
        assert_eq!(usd(139.698), "$139.70");
        assert_eq!(usd(1234.5), "$1,235");
        assert_eq!(usd(-12.5), "-$12.50");
        assert_eq!(usd(2_500_000.0), "$2,500,000");
    }

    #[test]
    fn sizes_are_in_billed_gb() {
        assert_eq!(size(600_000_000_000.0), "558.8 GB");
        assert_eq!(size(5.0 * 1024.0 * 1024.0), "5.0 MB");
        assert_eq!(count(2_000_000), "2,000,000");
        assert_eq!(count(999), "999");
    }
}
