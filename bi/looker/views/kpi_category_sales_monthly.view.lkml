# dbt model kpi_category_sales_monthly (models/marts/kpi): one row per (local month, category) with sales.
view: kpi_category_sales_monthly {
  sql_table_name: @{analytics_dataset}.kpi_category_sales_monthly ;;

  dimension: category_month_key {
    primary_key: yes
    hidden: yes
    type: string
    sql: CONCAT(CAST(${TABLE}.month_start AS STRING), '/', ${TABLE}.category_name) ;;
  }

  dimension_group: month {
    type: time
    datatype: date
    convert_tz: no
    timeframes: [raw, month, quarter, year]
    sql: ${TABLE}.month_start ;;
  }

  dimension: category_name {
    type: string
    sql: ${TABLE}.category_name ;;
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

  dimension: products_sold {
    description: "Distinct products of the category sold in the month."
    type: number
    sql: ${TABLE}.products_sold ;;
  }

  dimension: revenue_rank {
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
