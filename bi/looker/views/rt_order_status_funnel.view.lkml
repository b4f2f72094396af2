# dbt model rt_order_status_funnel (models/realtime): one row per order status (all eight, zero counts
# included) over the orders bought in the last 30 days.
view: rt_order_status_funnel {
  sql_table_name: @{analytics_dataset}.rt_order_status_funnel ;;

  dimension: order_status {
    primary_key: yes
    type: string
    order_by_field: stage_order
    sql: ${TABLE}.order_status ;;
  }

  dimension: stage_order {
    description: "Position of the status in the lifecycle: the happy path (created ... delivered), then its exits."
    type: number
    sql: ${TABLE}.stage_order ;;
  }

  dimension: is_happy_path {
    type: yesno
    sql: ${TABLE}.is_happy_path ;;
  }

  dimension: order_count {
    hidden: yes
    type: number
    sql: ${TABLE}.order_count ;;
  }

  dimension: order_share {
    hidden: yes
    type: number
    sql: ${TABLE}.order_share ;;
  }

  dimension: reached_count {
    hidden: yes
    type: number
    sql: ${TABLE}.reached_count ;;
  }

  measure: orders {
    description: "Orders now in this status."
    type: sum
    sql: ${order_count} ;;
  }

  measure: share_of_orders {
    type: sum
    value_format_name: percent_1
    sql: ${order_share} ;;
  }

  measure: orders_reached {
    description: "Orders at this stage of the happy path or beyond (empty for the exits)."
    type: sum
    sql: ${reached_count} ;;
  }
}
