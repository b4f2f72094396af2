# dbt model rt_sales_last_24h_by_hour (models/realtime): one row per local clock hour (var reporting_timezone)
# of the last 24 hours with at least one purchase. Counts and revenue are per hour: sum them.
view: rt_sales_last_24h_by_hour {
  sql_table_name: @{analytics_dataset}.rt_sales_last_24h_by_hour ;;

  dimension: hour_key {
    primary_key: yes
    hidden: yes
    type: string
    sql: CAST(${TABLE}.hour_start AS STRING) ;;
  }

  # A local wall-clock DATETIME already in the reporting time zone: never converted again.
  dimension_group: hour_start {
    label: "Hour"
    type: time
    datatype: datetime
    convert_tz: no
    timeframes: [raw, time, hour, hour_of_day, date, day_of_week]
    sql: ${TABLE}.hour_start ;;
  }

  dimension: order_count {
    hidden: yes
    type: number
    sql: ${TABLE}.order_count ;;
  }

  dimension: sale_count {
    hidden: yes
    type: number
    sql: ${TABLE}.sale_count ;;
  }

  dimension: revenue {
    hidden: yes
    type: number
    sql: ${TABLE}.revenue ;;
  }

  dimension: item_count {
    hidden: yes
    type: number
    sql: ${TABLE}.item_count ;;
  }

  measure: orders {
    description: "Purchases, canceled and unavailable included."
    type: sum
    sql: ${order_count} ;;
  }

  measure: sales {
    description: "Purchases that are neither canceled nor unavailable."
    type: sum
    sql: ${sale_count} ;;
  }

  measure: total_revenue {
    description: "Items plus freight of the sales, BRL."
    type: sum
    value_format_name: brl
    sql: ${revenue} ;;
  }

  measure: items {
    type: sum
    sql: ${item_count} ;;
  }

  measure: average_order_value {
    type: number
    value_format_name: brl
    sql: ${total_revenue} / NULLIF(${sales}, 0) ;;
  }
}
