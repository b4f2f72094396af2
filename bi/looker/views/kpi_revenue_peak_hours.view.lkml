# dbt model kpi_revenue_peak_hours (models/marts/kpi): one row per (local day of week, local hour of day).
view: kpi_revenue_peak_hours {
  sql_table_name: @{analytics_dataset}.kpi_revenue_peak_hours ;;

  dimension: slot_key {
    primary_key: yes
    hidden: yes
    type: string
    sql: CONCAT(CAST(${TABLE}.iso_day_of_week AS STRING), '-', CAST(${TABLE}.hour_of_day AS STRING)) ;;
  }

  dimension: iso_day_of_week {
    description: "1 = Monday ... 7 = Sunday."
    type: number
    sql: ${TABLE}.iso_day_of_week ;;
  }

  dimension: day_name {
    type: string
    order_by_field: iso_day_of_week
    sql: ${TABLE}.day_name ;;
  }

  dimension: hour_of_day {
    type: number
    sql: ${TABLE}.hour_of_day ;;
  }

  dimension: order_count {
    type: number
    sql: ${TABLE}.order_count ;;
  }

  dimension: revenue {
    type: number
    value_format_name: brl
    sql: ${TABLE}.revenue ;;
  }

  dimension: revenue_share {
    type: number
    value_format_name: percent_2
    sql: ${TABLE}.revenue_share ;;
  }

  dimension: peak_rank {
    description: "1 = the slot with the most orders."
    type: number
    sql: ${TABLE}.peak_rank ;;
  }

  measure: total_orders {
    type: sum
    sql: ${order_count} ;;
  }

  measure: total_revenue {
    type: sum
    value_format_name: brl
    sql: ${revenue} ;;
  }
}
