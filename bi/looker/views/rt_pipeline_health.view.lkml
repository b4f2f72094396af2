# dbt model rt_pipeline_health (models/realtime): one row per UTC minute of the last hour (var
# rt_pipeline_health_minutes) in which a pipeline sink committed a flush, from the counts the sinks write to
# pipeline_metrics. Counts are events (at least once), not orders. Latency percentiles are histogram bucket
# upper bounds (ms), NULL over 60 s.
view: rt_pipeline_health {
  sql_table_name: @{analytics_dataset}.rt_pipeline_health ;;

  dimension: minute_key {
    primary_key: yes
    hidden: yes
    type: string
    sql: CAST(${TABLE}.minute_start AS STRING) ;;
  }

  # The partition column of pipeline_metrics (minute), passed through: filter on it.
  dimension_group: minute_start {
    label: "Minute"
    type: time
    timeframes: [raw, time, minute, minute5, minute15, hour]
    sql: ${TABLE}.minute_start ;;
  }

  dimension: events_received {
    hidden: yes
    type: number
    sql: ${TABLE}.events_received ;;
  }

  dimension: valid_snapshots {
    hidden: yes
    type: number
    sql: ${TABLE}.valid_snapshots ;;
  }

  dimension: applied_snapshots {
    hidden: yes
    type: number
    sql: ${TABLE}.applied_snapshots ;;
  }

  dimension: superseded_snapshots {
    hidden: yes
    type: number
    sql: ${TABLE}.superseded_snapshots ;;
  }

  dimension: stale_snapshots {
    hidden: yes
    type: number
    sql: ${TABLE}.stale_snapshots ;;
  }

  dimension: duplicate_snapshots {
    hidden: yes
    type: number
    sql: ${TABLE}.duplicate_snapshots ;;
  }

  dimension: dead_letters {
    hidden: yes
    type: number
    sql: ${TABLE}.dead_letters ;;
  }

  dimension: parse_errors {
    hidden: yes
    type: number
    sql: ${TABLE}.parse_errors ;;
  }

  dimension: schema_errors {
    hidden: yes
    type: number
    sql: ${TABLE}.schema_errors ;;
  }

  dimension: business_rule_errors {
    hidden: yes
    type: number
    sql: ${TABLE}.business_rule_errors ;;
  }

  dimension: rows_errors {
    hidden: yes
    type: number
    sql: ${TABLE}.rows_errors ;;
  }

  dimension: sink_errors {
    hidden: yes
    type: number
    sql: ${TABLE}.sink_errors ;;
  }

  dimension: commit_latency_messages {
    hidden: yes
    type: number
    sql: ${TABLE}.commit_latency_messages ;;
  }

  dimension: commit_latency_over_60s {
    hidden: yes
    type: number
    sql: ${TABLE}.commit_latency_over_60s ;;
  }

  dimension: commit_latency_p50_ms {
    description: "Median publish-to-commit latency of the minute: upper bound of its histogram bucket (ms)."
    type: number
    sql: ${TABLE}.commit_latency_p50_ms ;;
  }

  dimension: commit_latency_p95_ms {
    description: "95th percentile of the minute's latency: upper bound of its histogram bucket (ms)."
    type: number
    sql: ${TABLE}.commit_latency_p95_ms ;;
  }

  dimension: commit_latency_p99_ms {
    description: "99th percentile of the minute's latency: upper bound of its histogram bucket (ms)."
    type: number
    sql: ${TABLE}.commit_latency_p99_ms ;;
  }

  measure: total_events_received {
    description: "Messages handled: valid snapshots plus the dead letters of the stages before the sink."
    type: sum
    sql: ${events_received} ;;
  }

  measure: total_valid_snapshots {
    type: sum
    sql: ${valid_snapshots} ;;
  }

  measure: total_applied_snapshots {
    type: sum
    sql: ${applied_snapshots} ;;
  }

  measure: total_superseded_snapshots {
    type: sum
    sql: ${superseded_snapshots} ;;
  }

  measure: total_stale_snapshots {
    type: sum
    sql: ${stale_snapshots} ;;
  }

  measure: total_duplicate_snapshots {
    type: sum
    sql: ${duplicate_snapshots} ;;
  }

  measure: total_dead_letters {
    type: sum
    sql: ${dead_letters} ;;
  }

  measure: total_parse_errors {
    type: sum
    sql: ${parse_errors} ;;
  }

  measure: total_schema_errors {
    type: sum
    sql: ${schema_errors} ;;
  }

  measure: total_business_rule_errors {
    type: sum
    sql: ${business_rule_errors} ;;
  }

  measure: total_rows_errors {
    type: sum
    sql: ${rows_errors} ;;
  }

  measure: total_sink_errors {
    type: sum
    sql: ${sink_errors} ;;
  }

  measure: dead_letter_rate {
    description: "Dead letters per event received."
    type: number
    value_format_name: percent_2
    sql: ${total_dead_letters} / NULLIF(${total_events_received}, 0) ;;
  }

  measure: total_commit_latency_messages {
    type: sum
    sql: ${commit_latency_messages} ;;
  }

  measure: total_commit_latency_over_60s {
    type: sum
    sql: ${commit_latency_over_60s} ;;
  }

  # Percentiles do not add up across minutes: the worst minute's is an upper bound for the period.
  measure: worst_commit_latency_p95_ms {
    type: max
    sql: ${commit_latency_p95_ms} ;;
  }

  measure: worst_commit_latency_p99_ms {
    type: max
    sql: ${commit_latency_p99_ms} ;;
  }
}
