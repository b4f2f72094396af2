# dbt model kpi_product_sales_monthly (models/marts/kpi): one row per (local month, product) with sales.
view: kpi_product_sales_monthly {
  sql_table_name: @{analytics_dataset}.kpi_product_sales_monthly ;;

  dimension: product_month_key {
    primary_key: yes
    hidden: yes
    type: string
    sql: CONCAT(CAST(${TABLE}.month_start AS STRING), '/', ${TABLE}.product_id) ;;
  }

  dimension_group: month {
    type: time
    datatype: date
    convert_tz: no
    timeframes: [raw, month, quarter, year]
    sql: ${TABLE}.month_start ;;
  }

  dimension: product_id {
    type: string
    sql: ${TABLE}.product_id ;;
  }

  dimension: category_name {
    type: string
    sql: ${TABLE}.category_name ;;
  }

  dimension: units_sold {
    type: number
    sql: ${TABLE}.units_sold ;;
  }

  dimension: order_count {
    type: number
    sql: ${TABLE}.order_count ;;
  }

  dimension: revenue {
    description: "Price of the items sold (no freight), BRL."
    type: number
    value_format_name: brl
    sql: ${TABLE}.revenue ;;
  }

  dimension: revenue_rank {
    description: "Rank of the product by revenue within its month (1 = top)."
    type: number
    sql: ${TABLE}.revenue_rank ;;
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
