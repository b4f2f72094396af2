{#- Average order value and purchase frequency where the customer lives (location as given on each order),
    at the grain of location_columns: one model per grain (state, city) shares this SQL. -#}
{% macro orders_by_location(location_columns) %}
with

orders as (

    select * from {{ ref('fct_orders') }}
    where is_sale

),

final as (

    select
        {{ location_columns | join(',\n        ') }},
        count(distinct customer_unique_id) as customer_count,
        count(*) as order_count,
        sum(order_value) as revenue,
        sum(order_value) / count(*) as average_order_value,
        count(*) * 1.0 / count(distinct customer_unique_id) as purchase_frequency

    from orders
    group by
        {{ location_columns | join(',\n        ') }}

)

select * from final
{% endmacro %}
