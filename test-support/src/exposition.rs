//! Reading a Prometheus text exposition, as the services serve it at `/actuator/prometheus`.

/// The sum of a metric's series with one label's value (`("topic", name)`), whatever their
/// other labels, in a Prometheus text exposition: a counter, or a histogram's `_sum` or
/// `_count`.
pub fn summed(exposition: &str, metric: &str, (name, value): (&str, &str)) -> f64 {
    let label = format!("{name}=\"{value}\"");
    let prefix = format!("{metric}{{");
    exposition
        .lines()
        .filter_map(|line| line.strip_prefix(prefix.as_str()))
        .filter_map(|line| line.split_once('}'))
        .filter(|(labels, _)| labels.split(',').any(|pair| pair == label))
        .filter_map(|(_, value)| value.trim().parse::<f64>().ok())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::summed;

    const CONSUMED: &str = "kafka_records_consumed_total";
    const PRODUCED: &str = "kafka_records_produced_total";

    #[test]
    fn a_counter_adds_up_every_outcome_of_one_topic_only() {
        let exposition = "\
# TYPE kafka_records_consumed_total counter
kafka_records_consumed_total{application=\"orders\",outcome=\"applied\",topic=\"run.customer\"} 40
kafka_records_consumed_total{application=\"orders\",outcome=\"unchanged\",topic=\"run.customer\"} 2
kafka_records_consumed_total{application=\"orders\",outcome=\"applied\",topic=\"run.customer.x\"} 7
kafka_records_produced_total{application=\"orders\",topic=\"run.customer\"} 9
";
        let topic = |name| ("topic", name);
        assert_eq!(summed(exposition, CONSUMED, topic("run.customer")), 42.0);
        assert_eq!(summed(exposition, PRODUCED, topic("run.customer")), 9.0);
        assert_eq!(summed(exposition, CONSUMED, topic("other")), 0.0);
        assert_eq!(summed(exposition, CONSUMED, ("outcome", "unchanged")), 2.0);
    }

    #[test]
    fn a_histograms_sum_and_count_add_up_over_its_series_of_one_label() {
        let exposition = "\
outbox_relay_pass_duration_seconds_bucket{application=\"accounts\",collection=\"c\",le=\"0.001\"} 1
outbox_relay_pass_duration_seconds_sum{application=\"accounts\",collection=\"c\"} 0.0125
outbox_relay_pass_duration_seconds_count{application=\"accounts\",collection=\"c\"} 5
outbox_relay_pass_duration_seconds_sum{application=\"accounts\",collection=\"d\"} 9
";
        let c = ("collection", "c");
        let pass = "outbox_relay_pass_duration_seconds";
        assert_eq!(summed(exposition, &format!("{pass}_sum"), c), 0.0125);
        assert_eq!(summed(exposition, &format!("{pass}_count"), c), 5.0);
    }
}
