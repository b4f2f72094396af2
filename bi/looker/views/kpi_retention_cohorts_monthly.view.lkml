# dbt model kpi_retention_cohorts_monthly (models/marts/kpi): one row per (cohort month, months since the
# first order): active customers of the cohort and their share of it.
view: kpi_retention_cohorts_monthly {
  sql_table_name: @{analytics_dataset}.kpi_retention_cohorts_monthly ;;

  dimension: cohort_key {
    primary_key: yes
    hidden: yes
    type: string
    sql: CONCAT(CAST(${TABLE}.cohort_month AS STRING), '+', CAST(${TABLE}.months_since_first_order AS STRING)) ;;
  }

  dimension_group: cohort {
    type: time
    datatype: date
    convert_tz: no
    timeframes: [raw, month, quarter, year]
    sql: ${TABLE}.cohort_month ;;
  }

  dimension: months_since_first_order {
    type: number
    sql: ${TABLE}.months_since_first_order ;;
  }

  dimension: cohort_size {
    type: number
    sql: ${TABLE}.cohort_size ;;
  }

  dimension: active_customers {
    type: number
    sql: ${TABLE}.active_customers ;;
  }

  dimension: retention_rate {
    type: number
    value_format_name: percent_1
    sql: ${TABLE}.retention_rate ;;
  }

  measure: average_retention_rate {
    type: average
    value_format_name: percent_1
    sql: ${retention_rate} ;;
  }
}
