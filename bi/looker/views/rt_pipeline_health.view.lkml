# dbt model rt_pipeline_health (models/realtime): one row per minute of the last hour in which the pipeline
# wrote an order snapshot or dead-lettered a message. minute_start is a UTC instant.
view: rt_pipeline_health {
  sql_table_name: @{analytics_dataset}.rt_pipeline_health ;;

  dimension: minute_key {
    primary_key: yes
    hidden: yes
    type: string
    sql: CAST(${TABLE}.minute_start AS STRING) ;;
  }

  dimension_group: minute_start {
    label: "Minute"
    type: time
    timeframes: [raw, time, minute, minute5, minute15, hour]
    sql: ${TABLE}.minute_start ;;
  }

  dimension: orders_written {
    hidden: yes
    type: number
    sql: ${TABLE}.orders_written ;;
  }

  dimension: avg_ingest_lag_seconds {
    hidden: yes
    type: number
    sql: ${TABLE}.avg_ingest_lag_seconds ;;
  }

  dimension: max_ingest_lag_seconds {
    hidden: yes
    type: number
    sql: ${TABLE}.max_ingest_lag_seconds ;;
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

  measure: snapshots_written {
    description: "Order snapshots written (each order counted at its latest write)."
    type: sum
    sql: ${orders_written} ;;
  }

  measure: average_ingest_lag_seconds {
    description: "Average seconds from event to write, weighted by the snapshots of each minute."
    type: number
    value_format_name: decimal_1
    sql: SUM(${avg_ingest_lag_seconds} * ${orders_written}) / NULLIF(${snapshots_written}, 0) ;;
  }

  measure: max_ingest_lag {
    label: "Max Ingest Lag Seconds"
    type: max
    sql: ${max_ingest_lag_seconds} ;;
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
    description: "Dead letters per message handled (snapshots written plus dead letters)."
    type: number
    value_format_name: percent_2
    sql: ${total_dead_letters} / NULLIF(${snapshots_written} + ${total_dead_letters}, 0) ;;
  }
}
