//! How one archiver run is shared out among the component instances it starts.

/// The `max_records` share of each instance to start, when a run of `instances` instances
/// (at least one) may copy at most `max_records`: shares differ by one at most and add up
/// to `max_records`, so that together the instances copy no more than it. An instance
/// whose share would be none is not started, so the list is shorter then (`max_records`
/// below `instances`); without a limit every instance is started, unlimited (`None`).
pub fn instance_shares(instances: usize, max_records: Option<u64>) -> Vec<Option<u64>> {
    let count = instances.max(1);
    match max_records {
        None => vec![None; count],
        Some(max) => {
            let count = count as u64;
            (0..count)
                .map(|i| max / count + u64::from(i < max % count))
                .filter(|&share| share > 0)
                .map(Some)
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_limit_every_instance_runs_unlimited() {
        assert_eq!(instance_shares(3, None), [None, None, None]);
    }

    #[test]
    fn shares_differ_by_one_at_most_and_add_up_to_the_limit() {
        assert_eq!(instance_shares(3, Some(10)), [Some(4), Some(3), Some(3)]);
        assert_eq!(instance_shares(2, Some(10)), [Some(5), Some(5)]);
    }

    #[test]
    fn instances_whose_share_is_none_are_not_started() {
        assert_eq!(instance_shares(4, Some(2)), [Some(1), Some(1)]);
        assert_eq!(instance_shares(4, Some(0)), []);
    }

    #[test]
    fn a_run_has_one_instance_at_least() {
        assert_eq!(instance_shares(0, None), [None]);
        assert_eq!(instance_shares(0, Some(7)), [Some(7)]);
    }
}
