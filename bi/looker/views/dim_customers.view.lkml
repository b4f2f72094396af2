# dbt model dim_customers (models/marts/core): one row per customer (customer_unique_id), located where their
# latest order was delivered, with their first and last orders.
view: dim_customers {
  sql_table_name: @{analytics_dataset}.dim_customers ;;

  dimension: customer_unique_id {
    primary_key: yes
    type: string
    sql: ${TABLE}.customer_unique_id ;;
  }

  dimension: customer_zip_code_prefix {
    type: zipcode
    sql: ${TABLE}.customer_zip_code_prefix ;;
  }

  dimension: customer_city {
    type: string
    sql: ${TABLE}.customer_city ;;
  }

  dimension: customer_state {
    type: string
    sql: ${TABLE}.customer_state ;;
  }

  dimension_group: first_order {
    type: time
    timeframes: [raw, time, date, month]
    sql: ${TABLE}.first_order_at ;;
  }

  dimension_group: last_order {
    type: time
    timeframes: [raw, time, date, month]
    sql: ${TABLE}.last_order_at ;;
  }

  dimension: first_order_local_date {
    label: "First Order Date (Reporting Time Zone)"
    type: date
    datatype: date
    convert_tz: no
    sql: ${TABLE}.first_order_date ;;
  }

  dimension_group: cohort {
    description: "Local month of the customer's first order."
    type: time
    datatype: date
    convert_tz: no
    timeframes: [raw, month, quarter, year]
    sql: ${TABLE}.cohort_month ;;
  }

  dimension: lifetime_orders {
    type: number
    sql: ${TABLE}.order_count ;;
  }

  dimension: is_repeat_customer {
    type: yesno
    sql: ${TABLE}.is_repeat_customer ;;
  }

  measure: customers {
    type: count_distinct
    sql: ${customer_unique_id} ;;
  }

  measure: repeat_customers {
    type: count_distinct
    sql: ${customer_unique_id} ;;
    filters: [is_repeat_customer: "yes"]
  }
}
