# dbt model kpi_revenue_monthly (models/marts/kpi): one row per local calendar month from the first to the
# latest purchase (months without sales as 0).
view: kpi_revenue_monthly {
  sql_table_name: @{analytics_dataset}.kpi_revenue_monthly ;;

  dimension_group: month {
    type: time
    datatype: date
    convert_tz: no
    timeframes: [raw, month, quarter, year]
    sql: ${TABLE}.month_start ;;
  }

  dimension: month_key {
    primary_key: yes
    hidden: yes
    type: string
    sql: CAST(${TABLE}.month_start AS STRING) ;;
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

  dimension: average_order_value {
    type: number
    value_format_name: brl
    sql: ${TABLE}.average_order_value ;;
  }

  dimension: revenue_growth_rate {
    description: "Revenue change from the previous month."
    type: number
    value_format_name: percent_1
    sql: ${TABLE}.revenue_growth_rate ;;
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
