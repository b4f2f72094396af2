# dbt model dim_products (models/marts/core): catalog products plus products ordered but not (yet) in the
# catalog (is_in_catalog = no, category 'unknown').
view: dim_products {
  sql_table_name: @{analytics_dataset}.dim_products ;;

  dimension: product_id {
    primary_key: yes
    type: string
    sql: ${TABLE}.product_id ;;
  }

  dimension: category_name {
    description: "English category name (the Portuguese one when there is no translation)."
    type: string
    sql: ${TABLE}.category_name ;;
  }

  dimension: category_name_portuguese {
    type: string
    sql: ${TABLE}.category_name_portuguese ;;
  }

  dimension: has_english_category {
    type: yesno
    sql: ${TABLE}.has_english_category ;;
  }

  dimension: product_name_length {
    type: number
    sql: ${TABLE}.product_name_length ;;
  }

  dimension: product_description_length {
    type: number
    sql: ${TABLE}.product_description_length ;;
  }

  dimension: product_photos_qty {
    type: number
    sql: ${TABLE}.product_photos_qty ;;
  }

  dimension: product_weight_g {
    type: number
    sql: ${TABLE}.product_weight_g ;;
  }

  dimension: product_length_cm {
    type: number
    sql: ${TABLE}.product_length_cm ;;
  }

  dimension: product_height_cm {
    type: number
    sql: ${TABLE}.product_height_cm ;;
  }

  dimension: product_width_cm {
    type: number
    sql: ${TABLE}.product_width_cm ;;
  }

  dimension: is_in_catalog {
    type: yesno
    sql: ${TABLE}.is_in_catalog ;;
  }

  measure: products {
    type: count_distinct
    sql: ${product_id} ;;
  }
}
