# dbt model kpi_seller_sales_monthly (models/marts/kpi): one row per (local month, seller) with sales.
view: kpi_seller_sales_monthly {
  sql_table_name: @{analytics_dataset}.kpi_seller_sales_monthly ;;

  dimension: seller_month_key {
    primary_key: yes
    hidden: yes
    type: string
    sql: CONCAT(CAST(${TABLE}.month_start AS STRING), '/', ${TABLE}.seller_id) ;;
  }

  dimension_group: month {
    type: time
    datatype: date
    convert_tz: no
    timeframes: [raw, month, quarter, year]
    sql: ${TABLE}.month_start ;;
  }

  dimension: seller_id {
    type: string
    sql: ${TABLE}.seller_id ;;
  }

  dimension: seller_city {
    type: string
    sql: ${TABLE}.seller_city ;;
  }

  dimension: seller_state {
    type: string
    sql: ${TABLE}.seller_state ;;
  }

  dimension: order_count {
    type: number
    sql: ${TABLE}.order_count ;;
  }

  dimension: units_sold {
    type: number
    sql: ${TABLE}.units_sold ;;
  }

  dimension: revenue {
    type: number
    value_format_name: brl
    sql: ${TABLE}.revenue ;;
  }

  dimension: freight_value {
    type: number
    value_format_name: brl
    sql: ${TABLE}.freight_value ;;
  }

  dimension: average_item_price {
    type: number
    value_format_name: brl
    sql: ${TABLE}.average_item_price ;;
  }

  measure: total_units_sold {
    type: sum
    sql: ${units_sold} ;;
  }

  measure: total_revenue {
    type: sum
    value_format_name: brl
    sql: ${revenue} ;;
  }
}
