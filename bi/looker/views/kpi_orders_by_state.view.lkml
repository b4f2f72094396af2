# dbt model kpi_orders_by_state (models/marts/kpi): average order value and purchase frequency by customer
# state (location as given on each order).
view: kpi_orders_by_state {
  sql_table_name: @{analytics_dataset}.kpi_orders_by_state ;;

  dimension: location_key {
    primary_key: yes
    hidden: yes
    type: string
    sql: ${TABLE}.customer_state ;;
  }

  dimension: customer_state {
    type: string
    sql: ${TABLE}.customer_state ;;
  }

  dimension: customer_count {
    type: number
    sql: ${TABLE}.customer_count ;;
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

  dimension: purchase_frequency {
    description: "Orders per customer."
    type: number
    value_format_name: decimal_2
    sql: ${TABLE}.purchase_frequency ;;
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

  measure: overall_average_order_value {
    type: number
    value_format_name: brl
    sql: ${total_revenue} / NULLIF(${total_orders}, 0) ;;
  }
}
