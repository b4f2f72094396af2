# dbt model kpi_revenue_daily (models/marts/kpi): one row per local day from the first to the latest purchase
# (days without sales as 0). Revenue = items + freight of non-canceled orders.
view: kpi_revenue_daily {
  sql_table_name: @{analytics_dataset}.kpi_revenue_daily ;;

  dimension: date_day {
    primary_key: yes
    type: date
    datatype: date
    convert_tz: no
    sql: ${TABLE}.date_day ;;
  }

  dimension: order_count {
    type: number
    sql: ${TABLE}.order_count ;;
  }

  dimension: items_value {
    type: number
    value_format_name: brl
    sql: ${TABLE}.items_value ;;
  }

  dimension: freight_value {
    type: number
    value_format_name: brl
    sql: ${TABLE}.freight_value ;;
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

  dimension: revenue_7d_moving_average {
    type: number
    value_format_name: brl
    sql: ${TABLE}.revenue_7d_moving_average ;;
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

  measure: total_freight {
    type: sum
    value_format_name: brl
    sql: ${freight_value} ;;
  }

  measure: overall_average_order_value {
    type: number
    value_format_name: brl
    sql: ${total_revenue} / NULLIF(${total_orders}, 0) ;;
  }
}
